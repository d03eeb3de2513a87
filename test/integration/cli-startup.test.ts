// Startup (issue 16): a command loads what it runs, nothing else. --version
// and help load no command's code; a run that cannot ask (--yes, --no-input,
// no terminal) never loads the prompt library or the spinner, nor the code of
// source kinds it does not use; libpg-query
// waits for a paused replica's names to be moved. Asserts modules, not
// milliseconds: an ESM resolve hook (test/fixtures/record-imports.mjs) lists
// every file the real CLI process resolved. The CLI is one bundle split at its
// dynamic imports (`npm run bundle`): a loaded chunk stands for the modules
// esbuild put in it (its metafile, dist/cli/bundle-meta.json).
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { undrop } from '../cli.js';
import { testWorkDir } from '../helpers.js';

const root = mkdtempSync(join(testWorkDir(), 'startup-'));
chmodSync(root, 0o755);
const hook = new URL('../fixtures/record-imports.mjs', import.meta.url).href;
// Nothing listens there: the run stops at its first server contact (the replica's pause).
const nowhere = `host=${join(root, 'no-server')} port=5432 dbname=shop user=app`;
const inventory = join(root, 'undrop.yaml');
writeFileSync(inventory, `production:\n  dsn: "${nowhere}"\nsources:\n  - name: replica\n    kind: delayed-replica\n    dsn: "${nowhere}"\n`);

const INTERACTIVE = ['@inquirer/prompts', '@inquirer/core', 'ora'];
const HEAVY = ['pg', 'execa', 'zod', 'yaml', 'libpg-query', 'pg-copy-streams', ...INTERACTIVE];

/** Output file (relative to the project) → the source files bundled into it. */
const bundled = new Map(
  Object.entries((JSON.parse(readFileSync('dist/cli/bundle-meta.json', 'utf8')) as { outputs: Record<string, { inputs: Record<string, unknown> }> }).outputs).map(([out, o]) => [out, Object.keys(o.inputs)]),
);

/** What a resolved URL loaded: a chunk's bundled sources, or the file itself (an external package). */
function modulesOf(url: string): string[] {
  if (!url.startsWith('file:')) return [];
  const file = relative(resolve('.'), fileURLToPath(url));
  return bundled.get(file) ?? [file];
}

let n = 0;
/** Run the CLI; the npm packages and the project's own modules (src/…) it loaded. */
async function loaded(args: string[]): Promise<{ exitCode: number; stderr: string; packages: Set<string>; own: Set<string> }> {
  const log = join(root, `imports-${++n}.log`);
  const r = await undrop(args, { nodeArgs: ['--import', hook], env: { UNDROP_IMPORTS_LOG: log } });
  const files = readFileSync(log, 'utf8').split('\n').filter(Boolean).flatMap(modulesOf);
  const packages = new Set(files.flatMap((f) => /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f)?.[1] ?? []));
  // the project's own modules, named without their extension (src/…/x)
  const own = new Set(files.flatMap((f) => /^src\/(.+)\.ts$/.exec(f)?.[1] ?? []).map((m) => `src/${m}`));
  return { exitCode: r.exitCode, stderr: r.stderr, packages, own };
}

const none = (set: Set<string>, names: string[]) => names.filter((x) => set.has(x));

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('startup: each command loads what it runs', () => {
  it('--version and help load commander and no command code', async () => {
    for (const args of [['--version'], ['--help'], ['recover', '--help'], ['lab', 'up', '--help']]) {
      const r = await loaded(args);
      expect(r.exitCode, args.join(' ')).toBe(0);
      expect(r.packages.has('commander')).toBe(true);
      expect(none(r.packages, HEAVY), args.join(' ')).toEqual([]);
      expect([...r.own].filter((m) => /^src\/(recovery\/recover-checklist|sources\/registry|lab\/up|cli\/actions\/)/.test(m)), args.join(' ')).toEqual([]);
    }
  });

  it('recover --yes without a terminal runs the recovery code and never loads the prompts, the spinner or libpg-query', async () => {
    const r = await loaded(['-c', inventory, '--work-dir', join(root, 'work'), 'recover', '--tables', 't', '--target', 'xid:1000', '--source', 'replica', '--yes']);
    // it reached the first server contact: the replica's pause, which finds no server
    expect(r.stderr).toContain('Could NOT pause delayed replica replica');
    expect(r.exitCode).toBe(1);
    expect(r.own.has('src/recovery/recover-checklist')).toBe(true);
    expect(r.packages.has('pg')).toBe(true);
    expect(none(r.packages, [...INTERACTIVE, 'libpg-query'])).toEqual([]);
    expect([...r.own].filter((m) => /^src\/(cli\/guided\/(flow|inventory-wizard)|lab\/(up|drill|incident)|verify\/)/.test(m))).toEqual([]);
    // the one source's kind only (sources/registry.ts imports a kind's module on its first use)
    expect(r.own.has('src/sources/delayed-replica/index')).toBe(true);
    expect([...r.own].filter((m) => /^src\/sources\/(pitr|pgbackrest|barman|snapshot|dump)\/index$/.test(m))).toEqual([]);
  });

  it('probe --json loads neither the prompts nor the spinner, nor the recover, lab or verify code', async () => {
    const r = await loaded(['-c', inventory, 'probe', '--json']);
    expect(r.exitCode).toBe(1); // the one source is unreachable
    expect(r.own.has('src/sources/probe-all')).toBe(true);
    expect(none(r.packages, [...INTERACTIVE, 'libpg-query'])).toEqual([]);
    expect([...r.own].filter((m) => /^src\/(recovery\/recover-checklist|lab\/up|verify\/|cli\/guided\/flow)/.test(m))).toEqual([]);
  });
});
