/** A node's log: one JSON object per line on stdout, `{"event": ..., ...fields}`. */
export function logEvent(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}
