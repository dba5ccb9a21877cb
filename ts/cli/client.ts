/**
 * Client commands: each is one HTTP request to `--endpoint`; the JSON answer is printed as is
 * and the exit status is 0 for a 2xx answer, 1 otherwise. Arguments are checked by the command
 * table (`commands.ts`) before anything is sent.
 */
export interface ClientRequest {
  method?: 'GET' | 'PUT' | 'POST' | 'DELETE';
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
}

export async function send(endpoint: string, req: ClientRequest): Promise<number> {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) query.set(k, String(v));
  const qs = query.size > 0 ? `?${query}` : '';
  const init: RequestInit = { method: req.method ?? 'GET' };
  if (req.body !== undefined) {
    init.body = JSON.stringify(req.body);
    init.headers = { 'content-type': 'application/json' };
  }
  const res = await fetch(`${endpoint}${req.path}${qs}`, init);
  const text = await res.text();
  try {
    console.log(JSON.stringify(JSON.parse(text), null, 2));
  } catch {
    console.log(text);
  }
  return res.ok ? 0 : 1;
}

export const keyPath = (key: string): string => `/v1/kv/${encodeURIComponent(key)}`;
