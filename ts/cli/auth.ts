/**
 * `quorumkv auth ...`: tokens and roles (admin), who am I, and a fresh token for a new cluster's
 * `--initial-admin-token-file`. The connection flags (`--token`, `--cacert`...) are global:
 * `connectionFlags` adds them to the program and installs them before any command runs.
 */
import { type Command, Option } from 'commander';
import { newToken } from '../auth/model';
import { clientCommand } from './client';
import { connectionFrom, type ConnectionFlags, useConnection } from './http_client';
import * as flags from './flags';

/** etcdctl's command timeout is 5 s; a linearizable read without a quorum answers 503 within 5 s here. */
const DEFAULT_ANSWER_TIMEOUT_MS = 10_000;

export function connectionFlags(program: Command): void {
  program
    .addOption(new Option('--token <token>', 'bearer token for nodes with --auth on').env('QUORUMKV_TOKEN'))
    .addOption(new Option('--token-file <file>', 'read the bearer token from a file').env('QUORUMKV_TOKEN_FILE'))
    .addOption(new Option('--cacert <file>', 'CA certificate (PEM) to trust for https:// endpoints').env('QUORUMKV_CACERT'))
    .option('--client-cert <file>', 'client certificate (PEM) for nodes started with --client-ca')
    .option('--client-key <file>', 'private key for --client-cert')
    .addOption(
      new Option('--timeout-ms <n>', 'how long a member has to start answering before the next endpoint is tried (or the command fails)')
        .env('QUORUMKV_TIMEOUT_MS')
        .default(DEFAULT_ANSWER_TIMEOUT_MS)
        .argParser(flags.integer(1)),
    )
    .hook('preAction', (_root, action) => {
      try {
        useConnection(connectionFrom(action.optsWithGlobals<ConnectionFlags>()));
      } catch (err) {
        action.error(`error: ${(err as Error).message}`);
      }
    });
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** `--read orders/ --readwrite md:AAPL` → the role body's permissions (`md:` names instruments). */
function permissions(o: Record<string, unknown>): { kind: 'kv' | 'md'; prefix: string; access: 'read' | 'readwrite' }[] {
  const out: { kind: 'kv' | 'md'; prefix: string; access: 'read' | 'readwrite' }[] = [];
  for (const access of ['read', 'readwrite'] as const) {
    for (const p of (o[access] as string[] | undefined) ?? []) out.push(p.startsWith('md:') ? { kind: 'md', prefix: p.slice(3), access } : { kind: 'kv', prefix: p, access });
  }
  return out;
}

export function authCommands(program: Command): void {
  const auth = program.command('auth').description('authentication: tokens, roles (admin) and who you are');
  auth
    .command('new-token')
    .description('print a fresh random token (nothing is sent; e.g. for --initial-admin-token-file)')
    .action(() => console.log(newToken()));
  clientCommand(auth, 'whoami', 'the subject and permissions of --token', () => ({ path: '/v1/auth/whoami' }));
  const token = auth.command('token').description('bearer tokens');
  clientCommand(token, 'create <subject>', 'create a token (printed once: store it)', ([subject], o) => ({ method: 'POST', path: '/v1/auth/tokens', body: { subject, roles: o.role } }))
    .requiredOption('--role <name>', 'a role the token holds (repeatable)', collect);
  clientCommand(token, 'list', 'tokens by id, subject and roles (never the secret)', () => ({ path: '/v1/auth/tokens' }));
  clientCommand(token, 'revoke <id>', 'revoke a token by its id', ([id]) => ({ method: 'DELETE', path: `/v1/auth/tokens/${encodeURIComponent(id)}` }));
  const role = auth.command('role').description('roles: read or readwrite on key prefixes (md:PREFIX for instruments), and admin');
  clientCommand(role, 'put <name>', 'create or replace a role', ([name], o) => ({ method: 'PUT', path: `/v1/auth/roles/${encodeURIComponent(name)}`, body: { admin: o.admin === true, permissions: permissions(o) } }))
    .option('--read <prefix>', 'read keys starting with prefix ("" for all; md:PREFIX for instruments); repeatable', collect)
    .option('--readwrite <prefix>', 'read and write keys starting with prefix; repeatable', collect)
    .option('--admin', 'membership, leader transfer, throttling and auth');
  clientCommand(role, 'list', 'every role with its permissions', () => ({ path: '/v1/auth/roles' }));
  clientCommand(role, 'delete <name>', 'delete a role no token holds', ([name]) => ({ method: 'DELETE', path: `/v1/auth/roles/${encodeURIComponent(name)}` }));
}
