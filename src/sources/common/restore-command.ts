// restore_command: how WAL comes out of an archive undrop cannot list (cp,
// scp, pgbackrest archive-get, wal-g…). Expanded the way PostgreSQL does it
// (one pass: %f file name, %p destination, %r restart point, %% a percent
// sign) and run by sh as the server OS user, as the server would run it: a
// command that works for undrop works for the recovering instance too.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runProgram } from '../../postgres/run.js';

export function expandRestoreCommand(cmd: string, file: string, path: string): string {
  return cmd.replace(/%[%fpr]/g, (m) => (m === '%%' ? '%' : m === '%f' ? file : m === '%p' ? path : '000000010000000000000001'));
}

export interface FetchResult {
  ok: boolean;
  exitCode: number;
  stderr: string;
}

/** Fetch one WAL file (a segment or a .history) into `dir`, which the server OS user can write. */
export async function fetchWalFile(cmd: string, file: string, dir: string, timeoutMs: number): Promise<FetchResult> {
  const dest = join(dir, file);
  const r = await runProgram('sh', ['-c', expandRestoreCommand(cmd, file, dest)], { asServerUser: true, allowFailure: true, timeoutMs });
  return { ok: r.exitCode === 0 && existsSync(dest), exitCode: r.exitCode, stderr: r.stderr };
}
