/**
 * `quorumkv start --config FILE`: the start options from a YAML (.yaml/.yml) or TOML (.toml)
 * file, keys named as the flags are (`peer-listen`, `snapshot-entries`, `throttle`...). The file's
 * values become arguments placed before the command line's, so a flag given on the command line
 * wins. A key that is not a `start` flag is refused with the key named; values go through the
 * same checks as flags.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseToml } from 'smol-toml';
import { parse as parseYaml } from 'yaml';

function parseFile(path: string): Record<string, unknown> {
  const text = readFileSync(path, 'utf8');
  const doc: unknown = /\.toml$/i.test(path) ? parseToml(text) : /\.ya?ml$/i.test(path) ? parseYaml(text) : undefined;
  if (doc === undefined) throw new Error(`${path}: the config file must end in .yaml, .yml or .toml`);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error(`${path}: the config must be a table of start options`);
  return doc as Record<string, unknown>;
}

/** The `--flag value` arguments `path` stands for, checked against `start`'s options. */
export function configArgs(start: Command, path: string): string[] {
  const args: string[] = [];
  for (const [key, value] of Object.entries(parseFile(path))) {
    const option = start.options.find((o) => o.long === `--${key}`);
    if (!option || key === 'config') throw new Error(`${path}: unknown key ${JSON.stringify(key)} (keys are start's flags without the dashes, e.g. peer-listen)`);
    if (option.isBoolean()) {
      if (typeof value !== 'boolean') throw new Error(`${path}: ${key} must be true or false`);
      if (value) args.push(`--${key}`);
      continue;
    }
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') throw new Error(`${path}: ${key} must be a string, a number or a boolean`);
    args.push(`--${key}`, typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value));
  }
  return args;
}

/** `argv` with `start --config FILE` expanded in place (the file's arguments before the rest). */
export function expandConfig(program: Command, argv: string[]): string[] {
  const at = argv.indexOf('start');
  const flag = argv.findIndex((a, i) => i > at && (a === '--config' || a.startsWith('--config=')));
  if (at < 0 || flag < 0) return argv;
  const path = argv[flag].startsWith('--config=') ? argv[flag].slice('--config='.length) : argv[flag + 1];
  if (!path) throw new Error('--config needs a file');
  const start = program.commands.find((c) => c.name() === 'start')!;
  const rest = argv.slice(at + 1).filter((_, i) => i + at + 1 !== flag && (argv[flag].includes('=') || i + at + 1 !== flag + 1));
  return [...argv.slice(0, at + 1), ...configArgs(start, path), ...rest];
}
