// Run the real CLI (from source, through tsx) as a user would.
import { userInfo } from 'node:os';
import { execa } from 'execa';

// As an ordinary user the server programs run as that user: runbooks name it (their {{os_user}}).
const ownUser = process.getuid?.() === 0 ? {} : { UNDROP_OS_USER: userInfo().username };

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function undrop(args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const r = await execa(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    reject: false,
    env: { ...ownUser, ...opts.env },
    cwd: opts.cwd,
    timeout: opts.timeoutMs ?? 300_000,
    stdin: 'ignore',
  });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
