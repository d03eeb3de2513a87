// Run the real CLI as a user would: the built one (dist/, what `npm run build`
// ships; test/global-setup.ts builds it when a source is newer).
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { execa } from 'execa';

// As an ordinary user the server programs run as that user: runbooks name it (their {{os_user}}).
const ownUser = process.getuid?.() === 0 ? {} : { UNDROP_OS_USER: userInfo().username };

/** The CLI's entry point (the package's bin). */
export const CLI_ENTRY = resolve('dist/cli/main.js');

/** node's arguments that start the CLI with `args`: `execa(process.execPath, cliArgs(…))`. */
export function cliArgs(args: string[]): string[] {
  return [CLI_ENTRY, ...args];
}

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** nodeArgs: more options for node itself (an --import hook of a test). */
export async function undrop(args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number; nodeArgs?: string[] } = {}): Promise<CliResult> {
  const r = await execa(process.execPath, [...(opts.nodeArgs ?? []), ...cliArgs(args)], {
    reject: false,
    env: { ...ownUser, ...opts.env },
    cwd: opts.cwd,
    timeout: opts.timeoutMs ?? 300_000,
    stdin: 'ignore',
  });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
