/**
 * `quorumkv certs init --dir D` (a CA: D/ca.crt, D/ca.key) and `quorumkv certs issue NAME --dir D
 * [--host H]... [--client]` (D/NAME.crt, D/NAME.key signed by it): certificates for tests and
 * small deployments. Keys are written owner-readable only; nothing is overwritten.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import * as flags from './flags';

/** The certificate maker (node-forge), loaded by the commands that make certificates: ~19 ms every other CLI call would pay. */
const certMaker = () => import('../tls/certs');

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function writeNew(path: string, text: string, mode: number): void {
  if (existsSync(path)) throw new Error(`${path} exists; not overwritten`);
  writeFileSync(path, text, { mode, flag: 'wx' });
}

function fail(cmd: Command, err: unknown): never {
  cmd.error(`error: ${(err as Error).message}`);
}

export function certsCommands(program: Command): void {
  const certs = program.command('certs').description('a local certificate authority: node and client certificates for TLS');
  certs
    .command('init')
    .description('create a CA in DIR (ca.crt, ca.key)')
    .requiredOption('--dir <dir>', 'where the CA is written')
    .option('--days <n>', 'validity in days', flags.integer(1, 36_500), 3650)
    .option('--name <cn>', "the CA's common name", 'quorumkv CA')
    .action(async (o: { dir: string; days: number; name: string }, cmd: Command) => {
      try {
        const { createCa } = await certMaker();
        mkdirSync(o.dir, { recursive: true });
        const ca = createCa(o.name, o.days);
        writeNew(join(o.dir, 'ca.key'), ca.key, 0o600);
        writeNew(join(o.dir, 'ca.crt'), ca.cert, 0o644);
        console.log(JSON.stringify({ cert: join(o.dir, 'ca.crt'), key: join(o.dir, 'ca.key') }));
      } catch (err) {
        fail(cmd, err);
      }
    });
  certs
    .command('issue <name>')
    .description('issue NAME.crt and NAME.key in DIR, signed by its CA (a node: n1, valid for --host names; a client: --client)')
    .requiredOption('--dir <dir>', "the CA's directory (from certs init)")
    .option('--host <host>', 'a DNS name or IP the certificate is valid for (repeatable; default localhost and 127.0.0.1)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--client', 'a client certificate (no server use)')
    .option('--days <n>', 'validity in days', flags.integer(1, 36_500), 825)
    .action(async (name: string, o: { dir: string; host?: string[]; client?: boolean; days: number }, cmd: Command) => {
      try {
        const { issueCert } = await certMaker();
        if (!NAME.test(name)) throw new Error(`the name must be 1-64 of A-Z a-z 0-9 . _ - (got ${JSON.stringify(name)})`);
        const ca = { cert: readFileSync(join(o.dir, 'ca.crt'), 'utf8'), key: readFileSync(join(o.dir, 'ca.key'), 'utf8') };
        const pem = issueCert(ca, { name, hosts: o.client ? [] : (o.host ?? ['localhost', '127.0.0.1']), days: o.days, clientOnly: o.client === true });
        writeNew(join(o.dir, `${name}.key`), pem.key, 0o600);
        writeNew(join(o.dir, `${name}.crt`), pem.cert, 0o644);
        console.log(JSON.stringify({ cert: join(o.dir, `${name}.crt`), key: join(o.dir, `${name}.key`) }));
      } catch (err) {
        fail(cmd, err);
      }
    });
}
