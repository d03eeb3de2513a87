// One function per PostgreSQL program the lab runs (pg_basebackup, pg_dump of a
// whole database, pgbench in the background, pg_waldump of one transaction,
// pg_archivecleanup, pgBackRest's write commands; pg_waldump lines are built
// by wal/waldump.ts). Kept apart from
// programs.ts, which the probe and copy-back code extend at the same time.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { PgBinaries } from './binaries.js';
import { runProgram, type RunResult } from './run.js';
import { runWaldump } from './wal/waldump.js';

export interface BasebackupOptions {
  /** Socket directory or host of the server. */
  host: string;
  port: number;
  user: string;
  dir: string;
  format: 'plain' | 'tar';
  gzip?: boolean;
  label?: string;
  /** -R: write standby.signal and primary_conninfo. */
  writeRecoveryConf?: boolean;
  /** -C -S NAME: create this physical replication slot and use it. */
  createSlot?: string;
  /** -T OLD=NEW for each tablespace (plain format): never write to a tablespace's original path. */
  tablespaceMapping?: [string, string][];
  /** The connection's password (PGPASSWORD), never in argv. */
  env?: Record<string, string>;
  timeoutMs?: number;
  /** --no-sync: the lab's throwaway copies skip fsync (seconds per backup when other programs write). */
  noSync?: boolean;
}

/** pg_basebackup with WAL streamed, a fast checkpoint and a manifest (the default since PG 13). */
export function pgBasebackup(bin: PgBinaries, o: BasebackupOptions): Promise<RunResult> {
  const args = ['-h', o.host, '-p', String(o.port), '-U', o.user, '-D', o.dir, o.format === 'tar' ? '-Ft' : '-Fp', '-X', 'stream', '-c', 'fast', '--manifest-checksums=CRC32C'];
  if (o.gzip) args.push('-z');
  if (o.noSync) args.push('--no-sync');
  if (o.label) args.push('-l', o.label);
  if (o.writeRecoveryConf) args.push('-R');
  if (o.createSlot) args.push('-C', '-S', o.createSlot);
  const esc = (p: string) => p.replace(/=/g, '\\=');
  for (const [from, to] of o.tablespaceMapping ?? []) args.push(`--tablespace-mapping=${esc(from)}=${esc(to)}`);
  return runProgram(bin.path('pg_basebackup'), args, { asServerUser: true, env: o.env, timeoutMs: o.timeoutMs ?? 60 * 60_000 });
}

export interface DumpDatabaseOptions {
  host: string;
  port: number;
  user: string;
  database: string;
  file: string;
  format: 'custom' | 'plain';
  /** --snapshot: dump exactly what an open transaction that exported this snapshot sees. */
  snapshot?: string;
  timeoutMs?: number;
}

/** pg_dump of a whole database to a file. */
export function pgDumpDatabase(bin: PgBinaries, o: DumpDatabaseOptions): Promise<RunResult> {
  const args = ['-h', o.host, '-p', String(o.port), '-U', o.user, '-d', o.database, o.format === 'custom' ? '-Fc' : '-Fp', '-f', o.file];
  if (o.snapshot) args.push(`--snapshot=${o.snapshot}`);
  return runProgram(bin.path('pg_dump'), args, { asServerUser: true, timeoutMs: o.timeoutMs ?? 60 * 60_000 });
}

export interface DetachedOptions {
  /** stdout and stderr are appended here. */
  logFile: string;
  env?: Record<string, string>;
}

/**
 * pgbench as a detached background process (its own session), outliving
 * undrop. Returns its pid; stop it with process.kill(pid).
 */
export function pgbenchDetached(bin: PgBinaries, args: readonly string[], o: DetachedOptions): number {
  const fd = openSync(o.logFile, 'a');
  try {
    const child = spawn(bin.path('pgbench'), [...args], {
      detached: true,
      stdio: ['ignore', fd, fd],
      cwd: '/',
      env: { ...process.env, LC_ALL: 'C.UTF-8', LC_MESSAGES: 'C', ...o.env },
    });
    child.unref();
    if (!child.pid) throw new Error('pgbench did not start');
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** pg_waldump of one transaction's records between two LSNs, from a pg_wal or archive folder. */
export function pgWaldumpXid(bin: PgBinaries, walDir: string, xid: string, startLsn: string, endLsn: string, timeoutMs = 120_000): Promise<RunResult> {
  return runWaldump(bin, { dir: walDir, start: startLsn, end: endLsn, xid: Number(xid), asServerUser: true, timeoutMs });
}

/** pg_archivecleanup: remove archived segments older than `oldestKept` (a segment or .backup file name). */
export function pgArchivecleanup(bin: PgBinaries, archiveDir: string, oldestKept: string): Promise<RunResult> {
  return runProgram(bin.path('pg_archivecleanup'), [archiveDir, oldestKept], { asServerUser: true, timeoutMs: 120_000 });
}

/** A pgBackRest command (stanza-create, backup, check, expire …) as the server OS user. */
export function pgbackrestRun(config: string, stanza: string, command: string, extra: readonly string[] = [], timeoutMs = 30 * 60_000): Promise<RunResult> {
  return runProgram('pgbackrest', [`--config=${config}`, `--stanza=${stanza}`, '--log-level-console=warn', ...extra, command], { asServerUser: true, timeoutMs });
}

/** A Barman command for the lab (receive-wal, cron, switch-wal, backup …); Barman drops to its barman_user itself. */
export function barmanLabRun(config: string, args: readonly string[], timeoutMs = 30 * 60_000, allowFailure = false): Promise<RunResult> {
  return runProgram('barman', ['-c', config, ...args], { timeoutMs, allowFailure });
}
