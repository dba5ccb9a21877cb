/** What a route answers: a status and a JSON body, JSON text already serialized, or a stream. */
export interface Reply {
  status?: number;
  body?: unknown;
  /** Extra response headers (with `body` or `raw`). */
  headers?: Record<string, string>;
  /** A JSON document already serialized (stored values are JSON text: no parse + stringify). */
  raw?: string | Buffer;
  /** A streaming answer: it writes its own status, headers and body (and ends it). */
  stream?: (res: import('./http').Res) => void;
}
