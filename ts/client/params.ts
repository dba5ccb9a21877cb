/** A request's query parameters, those left undefined dropped (so "absent" never reads as "undefined"). */
export function definedParams(params: Record<string, string | number | bigint | undefined>): URLSearchParams {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) q.set(name, String(value));
  return q;
}
