// Barman's command line, one function per command undrop runs. Barman drops
// privileges to its barman_user by itself when started as root, so it is
// run as undrop's own user; what it writes belongs to that user.
import { execClean, runProgram, type RunResult } from './run.js';
import { longProgramTimeoutMs } from './timeouts.js';
import { isRoot } from './os-user.js';

export interface BarmanOptions {
  server: string;
  /** Barman's configuration file (-c); default: Barman's own lookup. */
  config?: string;
  timeoutMs?: number;
}

function args(o: BarmanOptions, json: boolean, command: string, rest: readonly string[]): string[] {
  return [...(o.config ? ['-c', o.config] : []), ...(json ? ['-f', 'json'] : []), command, ...rest];
}

/** `barman -f json COMMAND … SERVER` (list-backups, show-backup, check, show-server); never throws on a failed command. */
export function barmanJson(o: BarmanOptions, command: 'list-backups' | 'show-backup' | 'check' | 'show-server', extra: readonly string[] = []): Promise<RunResult> {
  return runProgram('barman', args(o, true, command, [o.server, ...extra]), { allowFailure: true, timeoutMs: o.timeoutMs ?? 60_000 });
}

/** `barman get-wal -o DIR SERVER FILE`: one WAL file into DIR (which Barman's user must be able to write). */
export function barmanGetWal(o: BarmanOptions, walFile: string, dir: string): Promise<RunResult> {
  return runProgram('barman', args(o, false, 'get-wal', ['--output-directory', dir, o.server, walFile]), { allowFailure: true, timeoutMs: o.timeoutMs ?? 60_000 });
}

/** `barman verify-backup SERVER ID`: pg_verifybackup against the backup's manifest (read-only; --deep). */
export function barmanVerifyBackup(o: BarmanOptions, backupId: string): Promise<RunResult> {
  return runProgram('barman', args(o, false, 'verify-backup', [o.server, backupId]), { allowFailure: true, timeoutMs: o.timeoutMs ?? 600_000 });
}

export interface BarmanRecoverOptions extends BarmanOptions {
  backupId: string;
  /** A new folder (Barman creates it); its parent must be writable by Barman's user. */
  destination: string;
  target?: { type: 'xid' | 'lsn' | 'time' | 'name'; value: string; timeline?: string };
  /** Restore every WAL file to the end (a restore test), else stop at the backup's consistency point. */
  latest?: boolean;
  jobs?: number;
}

/** `barman recover` into a local folder: WAL needed for the target copied into DEST/barman_wal (no get-wal). */
export function barmanRecover(o: BarmanRecoverOptions): Promise<RunResult> {
  const rest: string[] = [];
  if (o.target) {
    rest.push(`--target-${o.target.type}`, o.target.value);
    if (o.target.type !== 'name') rest.push('--exclusive');
  } else if (!o.latest) rest.push('--target-immediate');
  if (o.target?.timeline) rest.push('--target-tli', o.target.timeline);
  if (o.jobs && o.jobs > 1) rest.push('--jobs', String(o.jobs));
  rest.push('--no-get-wal', o.server, o.backupId, o.destination);
  return runProgram('barman', args(o, false, 'recover', rest), { timeoutMs: o.timeoutMs ?? longProgramTimeoutMs() });
}

/** Hand a folder to Barman's OS user (no-op unless root): Barman writes into it as that user. */
export async function chownForBarman(path: string, user: string, recursive = false): Promise<void> {
  if (!isRoot()) return;
  await execClean('chown', [...(recursive ? ['-R'] : []), `${user}:`, path]);
}
