// Once per test run, before any test file: the tests spawn the CLI as it is
// shipped (dist/, `npm run build`: tsc, then the CLI bundled by esbuild), not
// through tsx, which transpiles every module again in each spawned process (about 1.8 s of CPU per spawn here,
// and the suite spawns the CLI some hundreds of times). Built only when a
// source file is newer than the last build (CI has just built it).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { CLI_ENTRY } from './cli.js';

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

export default async function setup(): Promise<void> {
  if (existsSync(CLI_ENTRY) && statSync(CLI_ENTRY).mtimeMs >= Math.max(newestSource('src'), statSync('tsconfig.json').mtimeMs)) return;
  // tsc writes its output even with type errors: the tests still run then; `npm run build` and lint report the errors.
  await execa('npx', ['tsc', '-p', 'tsconfig.json'], { reject: false, stdin: 'ignore' });
  // then the CLI as one bundle over tsc's dist/cli/main.js (what `npm run build` ships)
  const r = await execa('npm', ['run', 'bundle'], { reject: false, stdin: 'ignore' });
  if (r.exitCode !== 0 || !existsSync(CLI_ENTRY)) throw new Error(`npm run bundle failed:\n${r.stdout}\n${r.stderr}`);
}
