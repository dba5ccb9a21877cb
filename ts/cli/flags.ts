/**
 * Parsers for command-line values, used as commander argument parsers: a bad value fails the
 * command before anything runs or is sent, with the flag named (commander prefixes the
 * message with the option).
 */
import { InvalidArgumentError } from 'commander';
import { parsePeerAddress, type PeerAddress } from '../transport/peer';

/** A parser for an integer flag within [min, max]. */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER): (raw: string) => number {
  return (raw: string) => {
    const n = /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer in ${min}..${max === Number.MAX_SAFE_INTEGER ? '' : max}, got ${JSON.stringify(raw)}`);
    return n;
  };
}

export function address(raw: string): PeerAddress {
  try {
    return parsePeerAddress(raw);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** `n3` or `3` → 3. Node ids are positive integers; the `n` prefix is for readability. */
export function nodeId(raw: string): number {
  const m = /^n?(\d+)$/.exec(raw);
  const id = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(id) || id <= 0 || id >= 2 ** 32) throw new InvalidArgumentError(`node ids look like n1 or 1, got ${JSON.stringify(raw)}`);
  return id;
}

/** `n1=127.0.0.1:7101,n2=...` */
export function cluster(raw: string): Map<number, PeerAddress> {
  const members = new Map<number, PeerAddress>();
  for (const part of raw.split(',').filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq < 0) throw new InvalidArgumentError(`cluster members are id=host:port, got ${JSON.stringify(part)}`);
    members.set(nodeId(part.slice(0, eq)), address(part.slice(eq + 1)));
  }
  if (members.size === 0) throw new InvalidArgumentError('names no members');
  return members;
}

/** A JSON text argument. */
/**
 * A JSON argument, checked, kept as its text: parsed and written back, a number past a double
 * (a nanosecond timestamp) would be rounded before it reached the node.
 */
export function jsonText(raw: string): string {
  json(raw);
  return raw.trim();
}

export function json(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw new InvalidArgumentError(`must be JSON (for a string, quote it: '"text"'), got ${JSON.stringify(raw)}`);
  }
}

/** An http(s) endpoint URL, without a trailing slash. */
export function endpoint(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidArgumentError(`expected a URL such as http://127.0.0.1:7001, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError(`expected an http:// or https:// URL, got ${JSON.stringify(raw)}`);
  return raw.replace(/\/+$/, '');
}

/** One or more http(s) endpoint URLs, comma-separated (each as `endpoint`). */
export function endpoints(raw: string): string[] {
  const items = raw.split(',').map((s) => s.trim());
  if (items.some((s) => s.length === 0)) throw new InvalidArgumentError(`expected URLs separated by commas, got ${JSON.stringify(raw)}`);
  return items.map(endpoint);
}

/** A market-data seq: a decimal integer (kept as text: seqs pass 2^53). */
export function seq(raw: string): string {
  if (!/^\d{1,20}$/.test(raw) || BigInt(raw) >= 2n ** 64n) throw new InvalidArgumentError(`expected a seq (a decimal integer), got ${JSON.stringify(raw)}`);
  return raw;
}

/** A probability in [0, 1]. */
export function probability(raw: string): number {
  const p = /^(0|1|0?\.\d+)$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!(p >= 0 && p <= 1)) throw new InvalidArgumentError(`expected a probability in 0..1, got ${JSON.stringify(raw)}`);
  return p;
}

/** A comma-separated list of non-empty names. */
export function list(raw: string): string[] {
  const items = raw.split(',').map((s) => s.trim());
  if (items.some((s) => s.length === 0)) throw new InvalidArgumentError(`expected a comma-separated list of names, got "${raw}"`);
  return items;
}

/** A replay speed: `max`, or a positive multiple of real time. */
export function speed(raw: string): number | 'max' {
  if (raw === 'max') return 'max';
  const x = Number(raw);
  if (!(x > 0) || !Number.isFinite(x)) throw new InvalidArgumentError(`expected max or a positive number, got "${raw}"`);
  return x;
}

/** `on` or `off`. */
export function onOff(raw: string): boolean {
  if (raw === 'on') return true;
  if (raw === 'off') return false;
  throw new InvalidArgumentError(`expected on or off, got "${raw}"`);
}

/** A positive finite number (fractions allowed). */
export function positive(raw: string): number {
  const x = /^\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!(x > 0) || !Number.isFinite(x)) throw new InvalidArgumentError(`expected a positive number, got "${raw}"`);
  return x;
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration such as 500ms, 30s, 15m, 6h or 7d, in milliseconds. */
export function durationMs(raw: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(raw.trim());
  const ms = m ? Number(m[1]) * DURATION_UNITS_MS[m[2]] : NaN;
  if (!(ms > 0) || !Number.isSafeInteger(ms)) throw new InvalidArgumentError(`expected a duration such as 30s, 15m, 6h or 7d, got "${raw}"`);
  return ms;
}
