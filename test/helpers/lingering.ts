/**
 * Names whatever keeps a test worker alive after its tests finished. The timer is unref'd, so
 * it fires only if something else holds the event loop open for `afterMs`; it then writes the
 * live handles to stderr (ava shows a worker's stderr), so a "Failed to exit" in CI says why.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function reportLingeringHandles(label: string, afterMs = 15_000): void {
  setTimeout(() => {
    const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
    const described = handles.map((h) => describe(h));
    const report = `[${label}] still alive ${afterMs} ms after its tests: ${JSON.stringify(process.getActiveResourcesInfo())}\n  ${described.join('\n  ')}\n`;
    process.stderr.write(report);
    // Also to a file: a worker's late stderr may never reach the report.
    writeFileSync(join(tmpdir(), `quorumkv-lingering-${label}-${process.pid}.txt`), report);
  }, afterMs).unref();
}

function describe(h: unknown): string {
  const name = (h as { constructor?: { name?: string } }).constructor?.name ?? typeof h;
  const o = h as Record<string, unknown>;
  const parts: string[] = [name];
  if (typeof o.remotePort === 'number') parts.push(`remote ${String(o.remoteAddress)}:${o.remotePort}`);
  if (typeof o.localPort === 'number') parts.push(`local ${o.localPort}`);
  const fd = (o._handle as { fd?: number } | undefined)?.fd;
  if (typeof fd === 'number') parts.push(`fd ${fd}`);
  if (typeof o.pid === 'number') parts.push(`pid ${o.pid} spawnargs ${JSON.stringify(o.spawnargs)}`);
  if (typeof o.listening === 'boolean') parts.push(`listening ${String(o.listening)} ${JSON.stringify((o as { address?: () => unknown }).address?.())}`);
  if (o.readable !== undefined) parts.push(`readable ${String(o.readable)} destroyed ${String(o.destroyed)}`);
  return parts.join(' ');
}
