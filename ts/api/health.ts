/**
 * Operator routes of the health loop: `GET /metrics` (Prometheus text), `GET /v1/monitor`
 * (signals, limits, anomaly episodes), `POST /v1/monitor/throttle {"enabled"}` (the switch the
 * spike experiment flips), and the test-only `POST /v1/test/wal-stall`.
 */
import { QuorumError } from '../errors';
import { onlyFields, parseObject } from './args';
import type { ApiContext } from './context';
import type { Reply } from './reply';

const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';
/** The longest disk stall the test endpoint arms (a mistake must not hang a node for long). */
const STALL_MS_MAX = 60_000;

export async function metrics(ctx: ApiContext): Promise<Reply> {
  const m = ctx.health.metrics;
  if (!m) throw new QuorumError('route_not_found', 'metrics are off on this node (--metrics off)');
  const text = await m.render();
  return {
    stream: (res) => {
      res.writeHead(200, { 'content-type': PROMETHEUS_TEXT, 'content-length': String(Buffer.byteLength(text)) });
      res.end(text);
    },
  };
}

export function monitor(ctx: ApiContext): Reply {
  return { body: ctx.health.report() };
}

export function setThrottle(ctx: ApiContext, body: Buffer): Reply {
  const shape = '{"enabled": true | false}';
  const doc = parseObject(body, shape);
  onlyFields(doc, new Set(['enabled']), 'the body');
  if (typeof doc.enabled !== 'boolean') throw new QuorumError('invalid_body', `the body must be ${shape}`);
  ctx.health.throttle = doc.enabled;
  return { body: { enabled: ctx.health.throttle } };
}

export function walStall(ctx: ApiContext, body: Buffer): Reply {
  const shape = `{"delayMs": 0..${STALL_MS_MAX}, "durationMs": 0..${STALL_MS_MAX}}`;
  const doc = parseObject(body, shape);
  const ms = (v: unknown) => (Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= STALL_MS_MAX ? (v as number) : undefined);
  const delayMs = ms(doc.delayMs);
  const durationMs = ms(doc.durationMs);
  if (delayMs === undefined || durationMs === undefined) throw new QuorumError('invalid_body', `the body must be ${shape}`);
  ctx.node.stallWal(delayMs, durationMs);
  return { body: { delayMs, durationMs } };
}
