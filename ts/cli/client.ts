/**
 * Client commands: each is one HTTP request to `--endpoint` (the next endpoint given if that one
 * is unreachable); the JSON answer is printed as is and the exit status is 0 for a 2xx answer, 1
 * otherwise. Arguments are checked by the command table (`commands.ts`) before anything is sent.
 */
import { randomUUID } from 'node:crypto';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { callAny, type CallInit } from './http_client';
import * as flags from './flags';
import { prettyJson } from './pretty_json';

export interface ClientRequest {
  method?: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'PATCH';
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** The body as JSON text, sent as it is (instead of `body`). */
  bodyText?: string;
  /** Answered only once its work is done (a backup): no answer timeout. */
  slow?: boolean;
}

/** Key writes, txns and batches: applied once per Idempotency-Key, so safe to repeat on another member. */
const KEYED_WRITE = /^(PUT|PATCH|DELETE) \/v1\/kv\/|^POST \/v1\/(txn|batch)$/;

export async function send(endpoints: readonly string[], req: ClientRequest): Promise<number> {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) query.set(k, String(v));
  const qs = query.size > 0 ? `?${query}` : '';
  const method = req.method ?? 'GET';
  const headers: Record<string, string> = {};
  const init: CallInit = { method, headers, timeoutMs: req.slow ? null : undefined };
  if (req.body !== undefined || req.bodyText !== undefined) {
    init.body = req.bodyText ?? JSON.stringify(req.body);
    headers['content-type'] = 'application/json';
  }
  // A write whose answer was lost is repeated on the next member: the key makes that exactly-once.
  const keyed = KEYED_WRITE.test(`${method} ${req.path}`);
  if (keyed) headers['idempotency-key'] = `cli-${randomUUID()}`;
  const res = await callAny(endpoints, `${req.path}${qs}`, init, method === 'GET' || keyed);
  const text = await res.text();
  console.log(prettyJson(text) ?? text);
  return res.ok ? 0 : 1;
}

export const keyPath = (key: string): string => `/v1/kv/${encodeURIComponent(key)}`;

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:7001';

/**
 * `--endpoint`: a member's client URL, or several comma-separated (also from
 * `QUORUMKV_ENDPOINTS`), tried in order while unreachable — as etcdctl's `--endpoints`.
 */
export function endpointOption(): Option {
  return new Option('--endpoint <urls>', "a member's client URL, or several comma-separated (the next is tried while one is unreachable)")
    .env('QUORUMKV_ENDPOINTS')
    .default([DEFAULT_ENDPOINT], DEFAULT_ENDPOINT)
    .argParser(flags.endpoints);
}

/** A client command: builds one request from its arguments and sends it to `--endpoint`. */
export function clientCommand(program: Command, name: string, summary: string, build: (args: string[], opts: Record<string, unknown>) => ClientRequest): Command {
  return program
    .command(name)
    .description(summary)
    .addOption(endpointOption())
    .action(async (...all: unknown[]) => {
      const cmd = all[all.length - 1] as Command;
      const opts = cmd.opts<Record<string, unknown>>();
      let req: ClientRequest | undefined;
      try {
        req = build(cmd.processedArgs as string[], opts);
      } catch (err) {
        if (!(err instanceof InvalidArgumentError)) throw err;
        cmd.error(`error: ${err.message}`);
      }
      process.exitCode = await send(opts.endpoint as string[], req!);
    });
}

