/**
 * `quorumkv backup create|list|verify` and `quorumkv restore`. `create` asks a node (its
 * `--backup-target`); `list`, `verify` and `restore` read the target directly (`--target URL`,
 * S3 credentials from the standard AWS environment), so they work with the cluster gone.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { clientCommand } from './client';
import * as flags from './flags';
import { openTarget } from '../backup/crypt';
import { manifestsIn } from '../backup/catalog';
import { verifyLog } from '../backup/log_chain';
import { PREFETCH_SEGMENTS } from '../backup/pitr';
import { type Progress, restore, verifyBackups } from '../backup/restore';
import type { PeerAddress } from '../transport/peer';

const KEY_HELP = 'the AES-256 key the backups were encrypted with (64 hex digits or base64)';

function progressLine(p: Progress, startedMs: number): string {
  const s = (Date.now() - startedMs) / 1000;
  const rate = p.bytes / Math.max(s, 0.001);
  const eta = rate > 0 ? (p.bytesTotal - p.bytes) / rate : 0;
  const width = 30;
  const done = Math.round((width * p.bytes) / Math.max(p.bytesTotal, 1));
  return `[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${(p.bytes / 2 ** 20).toFixed(1)}/${(p.bytesTotal / 2 ** 20).toFixed(1)} MiB, ${p.files}/${p.filesTotal} files, ${p.entries} log entries, ETA ${eta.toFixed(0)} s`;
}

function pointInTime(raw: string): number {
  const ms = Date.parse(raw);
  if (!/^\d{4}-\d\d-\d\dT/.test(raw) || Number.isNaN(ms)) throw new InvalidArgumentError(`expected an ISO-8601 time such as 2026-11-30T14:05:00Z, got "${raw}"`);
  return ms;
}

async function run(cmd: Command, work: () => Promise<unknown>): Promise<void> {
  try {
    console.log(JSON.stringify(await work(), null, 2));
  } catch (err) {
    const e = err as Error & { code?: string };
    console.error(JSON.stringify({ error: { code: e.code ?? 'error', message: e.message } }));
    process.exitCode = 1;
  }
}

export function backupCommands(program: Command): void {
  const backup = program.command('backup').description('full backups to a directory or S3-compatible object storage');
  clientCommand(backup, 'create', 'take a full backup now through a node (its --backup-target); prints the report', () => ({ method: 'POST', path: '/v1/backups', slow: true }));
  clientCommand(backup, 'status', 'a node\'s last backup, failures and target', () => ({ path: '/v1/backups' }));
  backup
    .command('list')
    .description('the backups in a target (index, term, files, bytes)')
    .requiredOption('--target <url>', 'file:///path or s3://bucket/prefix')
    .option('--encryption-key-file <file>', KEY_HELP)
    .action(async (o: { target: string; encryptionKeyFile?: string }, cmd: Command) =>
      run(cmd, async () => ({ backups: (await manifestsIn(openTarget(o.target, o.encryptionKeyFile))).map(({ index, term, name }) => ({ index, term, manifest: name })) })),
    );
  backup
    .command('verify')
    .description('read every object of the backups and the log back: sizes and SHA-256 against their manifests, segment checksums, the log chain unbroken')
    .requiredOption('--target <url>', 'file:///path or s3://bucket/prefix')
    .option('--index <n>', 'only the backup at this index', flags.integer(1))
    .option('--encryption-key-file <file>', KEY_HELP)
    .option('--deep', 'also download each backup into a scratch directory, open it and compare its state digest with the one recorded at backup time')
    .option('--scratch <dir>', 'with --deep: where backups are downloaded (default: the system temporary directory)')
    .action(async (o: { target: string; index?: number; encryptionKeyFile?: string; deep?: boolean; scratch?: string }, cmd: Command) =>
      run(cmd, async () => {
        const store = openTarget(o.target, o.encryptionKeyFile);
        const scratch = o.deep ? mkdtempSync(join(o.scratch ?? tmpdir(), 'qkv-verify-')) : undefined;
        try {
          return { ok: true, backups: await verifyBackups(store, o.index, scratch === undefined ? undefined : { scratch }), log: await verifyLog(store) };
        } finally {
          if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
        }
      }),
    );
  program
    .command('restore')
    .description('write one data directory per member of a new cluster (OUT/n<id>/) from a backup; then start each with quorumkv start --cluster (the same list)')
    .requiredOption('--from <url>', 'the backup target: file:///path or s3://bucket/prefix')
    .option('--index <n>', 'the state at this log index: the newest full backup at or before it, rolled forward by the shipped log (default: the newest backup, rolled forward as far as the log goes)', flags.integer(1))
    .option('--time <time>', 'the state at this time (ISO-8601, e.g. 2026-11-30T14:05:00Z): every entry known committed by then', pointInTime)
    .option('--prefetch-segments <n>', 'log segments downloaded and decoded ahead of the one being replayed', flags.integer(1), PREFETCH_SEGMENTS)
    .requiredOption('--out <dir>', 'where the data directories go')
    .requiredOption('--cluster <members>', 'the new cluster: n1=H:P,n2=H:P,... (peer addresses, as for start)', flags.cluster)
    .option('--encryption-key-file <file>', KEY_HELP)
    .addOption(new Option('--quiet', 'no progress bar'))
    .action(async (o: { from: string; index?: number; time?: number; prefetchSegments: number; out: string; cluster: Map<number, PeerAddress>; quiet?: boolean; encryptionKeyFile?: string }, cmd: Command) => {
      if (o.index !== undefined && o.time !== undefined) cmd.error('error: give --index or --time, not both');
      const started = Date.now();
      const onProgress = o.quiet ? undefined : (p: Progress) => process.stderr.write(`\r${progressLine(p, started)}`);
      await run(cmd, async () => {
        const r = await restore(openTarget(o.from, o.encryptionKeyFile), { index: o.index, timeMs: o.time, prefetchSegments: o.prefetchSegments, out: o.out, cluster: o.cluster, onProgress });
        if (onProgress) process.stderr.write('\n');
        return { ...r, ms: Date.now() - started };
      });
    });
}
