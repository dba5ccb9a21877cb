/** What a route answers: a status and a JSON body, or JSON text already serialized. */
export interface Reply {
  status?: number;
  body?: unknown;
  /** A JSON document already serialized (stored values are JSON text: no parse + stringify). */
  raw?: string;
}
