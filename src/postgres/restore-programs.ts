// Restoring into a (temporary) database: pg_restore -d and psql -f.
import type { PgBinaries } from './binaries.js';
import { type ConnParams, programEnv, toConninfo } from './conninfo.js';
import { runProgram, type RunResult } from './run.js';
import { longProgramTimeoutMs } from './timeouts.js';

export interface RestoreIntoOptions {
  listFile?: string;
  section?: 'pre-data' | 'data' | 'post-data';
  exitOnError?: boolean;
  jobs?: number;
  timeoutMs?: number;
}

/** pg_restore into a database; failures are returned (pg_restore reports ignored errors with rc=1). */
export function pgRestoreInto(bin: PgBinaries, conn: ConnParams, file: string, o: RestoreIntoOptions = {}): Promise<RunResult> {
  const args = ['-d', toConninfo(conn), '--no-owner', '--no-privileges', '--no-tablespaces'];
  if (o.listFile) args.push('-L', o.listFile);
  if (o.section) args.push(`--section=${o.section}`);
  if (o.exitOnError) args.push('--exit-on-error');
  if (o.jobs && o.jobs > 1) args.push('-j', String(o.jobs));
  args.push(file);
  return runProgram(bin.path('pg_restore'), args, { env: programEnv(conn), allowFailure: true, timeoutMs: o.timeoutMs ?? longProgramTimeoutMs() });
}

/**
 * psql: load a plain SQL dump into a temporary instance; errors are
 * reported, not fatal (like psql without ON_ERROR_STOP). psql runs as the
 * server OS user (never root) and reads the dump on stdin, so it needs no
 * access to the dump's folder; the dump was checked for meta-commands first.
 */
export function psqlFile(bin: PgBinaries, conn: ConnParams, file: string, timeoutMs = longProgramTimeoutMs()): Promise<RunResult> {
  return runProgram(bin.path('psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=0', '-d', toConninfo(conn)], { env: programEnv(conn), inputFile: file, asServerUser: true, allowFailure: true, timeoutMs });
}

export interface PgbackrestRestoreOptions {
  stanza: string;
  config?: string;
  repo?: number;
  pgPath: string;
  /** Every tablespace restored under this folder (never to its original path). */
  tablespaceDir?: string;
  set?: string;
  target?: { type: 'xid' | 'lsn' | 'time' | 'name'; value: string; timeline?: string };
  /** No target: replay every WAL file the repository holds (a restore test), not only to consistency. */
  latest?: boolean;
  dbInclude?: string[];
  /** Parallel restore processes (pgBackRest's --process-max). */
  processMax?: number;
  timeoutMs?: number;
}

/** pgbackrest restore into an empty folder, never archiving, promoting at the target. */
export function pgbackrestRestore(o: PgbackrestRestoreOptions): Promise<RunResult> {
  const args = [`--stanza=${o.stanza}`];
  if (o.config) args.push(`--config=${o.config}`);
  if (o.repo) args.push(`--repo=${o.repo}`);
  args.push(`--pg1-path=${o.pgPath}`, '--archive-mode=off', '--log-level-console=warn');
  if (o.tablespaceDir) args.push(`--tablespace-map-all=${o.tablespaceDir}`);
  if (o.set) args.push(`--set=${o.set}`);
  if (o.target) args.push(`--type=${o.target.type}`, `--target=${o.target.value}`, ...(o.target.type === 'name' ? [] : ['--target-exclusive']), '--target-action=promote');
  else if (o.latest) args.push('--type=default');
  else args.push('--type=immediate', '--target-action=promote');
  if (o.target?.timeline) args.push(`--target-timeline=${o.target.timeline}`);
  for (const db of o.dbInclude ?? []) args.push(`--db-include=${db}`);
  if (o.processMax) args.push(`--process-max=${o.processMax}`);
  args.push('restore');
  return runProgram('pgbackrest', args, { asServerUser: true, timeoutMs: o.timeoutMs ?? longProgramTimeoutMs() });
}

/**
 * pg_dump -Fc --schema-only of a whole database (schemas, types, domains,
 * collations, extensions, every table's DDL), never waiting long for a lock;
 * `exclude`: tables to leave out (those another process holds locked).
 */
export function pgDumpSchema(bin: PgBinaries, conn: ConnParams, file: string, exclude: readonly { schema: string; name: string }[] = [], lockWaitSec = 10): Promise<RunResult> {
  const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
  const args = ['-d', toConninfo(conn), '-Fc', '--schema-only', `--lock-wait-timeout=${lockWaitSec}s`, '--no-sync', '-f', file];
  for (const t of exclude) args.push('-T', `${q(t.schema)}.${q(t.name)}`);
  return runProgram(bin.path('pg_dump'), args, { env: programEnv(conn), timeoutMs: longProgramTimeoutMs() });
}

/** pg_dump -Fc of some tables (with their indexes, constraints and owned sequences), never waiting long for a lock. */
export function pgDumpTables(bin: PgBinaries, conn: ConnParams, tables: readonly { schema?: string; name: string }[], file: string, lockWaitSec = 10): Promise<RunResult> {
  const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
  const args = ['-d', toConninfo(conn), '-Fc', `--lock-wait-timeout=${lockWaitSec}s`, '--no-sync', '-f', file];
  for (const t of tables) args.push('-t', `${q(t.schema ?? 'public')}.${q(t.name)}`);
  return runProgram(bin.path('pg_dump'), args, { env: programEnv(conn), timeoutMs: longProgramTimeoutMs() });
}
