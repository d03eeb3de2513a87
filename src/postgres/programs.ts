// One function per PostgreSQL program undrop runs. Nothing above src/postgres
// builds a command line for pg_ctl, initdb or pg_controldata by hand.
import type { PgBinaries } from './binaries.js';
import { runProgram, type RunResult } from './run.js';

export interface InitdbOptions {
  dataDir: string;
  superuser?: string;
  dataChecksums?: boolean;
  /** Skip fsync: fine for throwaway instances, not for the lab's production. */
  noSync?: boolean;
}

export function initdb(bin: PgBinaries, o: InitdbOptions): Promise<RunResult> {
  const args = ['-D', o.dataDir, '-U', o.superuser ?? 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C.UTF-8'];
  if (o.dataChecksums) args.push('--data-checksums');
  if (o.noSync) args.push('--no-sync');
  return runProgram(bin.path('initdb'), args, { asServerUser: true, timeoutMs: 120_000 });
}

export function pgCtlStart(bin: PgBinaries, dataDir: string, logFile: string, timeoutSec: number): Promise<RunResult> {
  return runProgram(bin.path('pg_ctl'), ['-D', dataDir, '-l', logFile, '-w', '-t', String(timeoutSec), 'start'], {
    asServerUser: true,
    timeoutMs: (timeoutSec + 10) * 1000,
    allowFailure: true,
  });
}

export function pgCtlStop(bin: PgBinaries, dataDir: string, mode: 'smart' | 'fast' | 'immediate', timeoutSec = 60): Promise<RunResult> {
  return runProgram(bin.path('pg_ctl'), ['-D', dataDir, '-m', mode, '-w', '-t', String(timeoutSec), 'stop'], {
    asServerUser: true,
    timeoutMs: (timeoutSec + 10) * 1000,
    allowFailure: true,
  });
}

/** pg_controldata as a key → value map ("Database cluster state" → "in production"). */
export async function pgControldata(bin: PgBinaries, dataDir: string): Promise<Record<string, string>> {
  const r = await runProgram(bin.path('pg_controldata'), ['-D', dataDir], { timeoutMs: 30_000 });
  return parseControldata(r.stdout);
}

export function parseControldata(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

// --- probe helpers (read-only programs) ---------------------------------------

/** pg_verifybackup on a plain-format backup; never throws on a failed verification. */
export function pgVerifybackup(bin: PgBinaries, backupDir: string, o: { walDir?: string; skipChecksums?: boolean; noWal?: boolean; timeoutMs?: number } = {}): Promise<RunResult> {
  const args = ['-q'];
  if (o.skipChecksums) args.push('-s');
  if (o.noWal) args.push('-n');
  if (o.walDir) args.push('-w', o.walDir);
  args.push(backupDir);
  return runProgram(bin.path('pg_verifybackup'), args, { allowFailure: true, timeoutMs: o.timeoutMs ?? 300_000 });
}

/** pg_restore -l: the archive's table of contents (never throws on a bad archive). */
export function pgRestoreList(bin: PgBinaries, archive: string, timeoutMs = 60_000): Promise<RunResult> {
  return runProgram(bin.path('pg_restore'), ['-l', archive], { allowFailure: true, timeoutMs });
}

/** pg_restore -f /dev/null: reads the whole archive, the cheap full-read integrity test. */
export function pgRestoreToNull(bin: PgBinaries, archive: string, timeoutMs = 600_000): Promise<RunResult> {
  return runProgram(bin.path('pg_restore'), ['-f', '/dev/null', archive], { allowFailure: true, timeoutMs });
}

export interface PgbackrestOptions {
  stanza: string;
  config?: string;
  repo?: number;
  timeoutMs?: number;
}

function pgbackrestArgs(o: PgbackrestOptions): string[] {
  const args = [`--stanza=${o.stanza}`];
  if (o.config) args.push(`--config=${o.config}`);
  if (o.repo) args.push(`--repo=${o.repo}`);
  return args;
}

/** pgbackrest info --output=json, run as the server OS user (never throws on a failed command). */
export function pgbackrestInfo(o: PgbackrestOptions): Promise<RunResult> {
  return runProgram('pgbackrest', [...pgbackrestArgs(o), '--output=json', 'info'], { asServerUser: true, allowFailure: true, timeoutMs: o.timeoutMs ?? 60_000 });
}

/** pgbackrest verify: checks every backup file and WAL segment in the repository (slow; --deep only). */
export function pgbackrestVerify(o: PgbackrestOptions): Promise<RunResult> {
  return runProgram('pgbackrest', [...pgbackrestArgs(o), '--log-level-console=info', 'verify'], { asServerUser: true, allowFailure: true, timeoutMs: o.timeoutMs ?? 600_000 });
}

/** pgbackrest archive-get of one WAL file into `dest` (absolute path; the server user must be able to write there). */
export function pgbackrestArchiveGet(o: PgbackrestOptions, walFile: string, dest: string): Promise<RunResult> {
  return runProgram('pgbackrest', [...pgbackrestArgs(o), 'archive-get', walFile, dest], { asServerUser: true, allowFailure: true, timeoutMs: o.timeoutMs ?? 60_000 });
}

// --- copy back: pg_dump / pg_restore / psql (src/recovery/) ---
import { failure } from '../errors.js';
import { commandLine } from '../util/redact.js';
import { type ConnParams, programEnv, toConninfo } from './conninfo.js';
import { childEnv, spawnProgram, tail } from './run.js';

export interface SchemaDumpOptions {
  /** Custom-format archive written here. */
  file: string;
  /** Schema names (exact; quoted for pg_dump's pattern syntax here). */
  schemas?: string[];
  /** Tables as schema + name (exact). */
  tables?: { schema: string; name: string }[];
  /** --lock-wait-timeout: fail rather than wait longer for a table's lock (a server others use). */
  lockWaitSec?: number;
  timeoutMs?: number;
}

/** pg_dump pattern that matches exactly this name ("…" turns off pattern characters). */
export function exactPattern(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** pg_dump --schema-only -Fc of the given schemas or tables: DDL, indexes, constraints, owned sequences, comments. */
export function pgDumpSchema(bin: PgBinaries, conn: ConnParams, o: SchemaDumpOptions): Promise<RunResult> {
  const args = ['-d', toConninfo(conn), '-Fc', '--schema-only', '--no-tablespaces', '--no-security-labels', '-f', o.file];
  for (const s of o.schemas ?? []) args.push('-n', exactPattern(s));
  for (const t of o.tables ?? []) args.push('-t', `${exactPattern(t.schema)}.${exactPattern(t.name)}`);
  if (o.lockWaitSec !== undefined) args.push(`--lock-wait-timeout=${o.lockWaitSec}s`);
  return runProgram(bin.path('pg_dump'), args, { env: programEnv(conn), timeoutMs: o.timeoutMs ?? 10 * 60_000 });
}

export interface RestoreSqlOptions {
  /** -L: restore only the entries of this list file. */
  listFile?: string;
  section?: 'pre-data' | 'data' | 'post-data';
  noOwner?: boolean;
  noPrivileges?: boolean;
  timeoutMs?: number;
}

/** pg_restore -f -: an archive (or part of it) as SQL text, without touching any database. */
export async function pgRestoreSql(bin: PgBinaries, file: string, o: RestoreSqlOptions = {}): Promise<string> {
  const args = ['-f', '-'];
  if (o.listFile) args.push('-L', o.listFile);
  if (o.section) args.push(`--section=${o.section}`);
  if (o.noOwner) args.push('--no-owner');
  if (o.noPrivileges) args.push('--no-privileges');
  args.push(file);
  const r = await runProgram(bin.path('pg_restore'), args, { timeoutMs: o.timeoutMs ?? 60_000 });
  return r.stdout;
}

export interface ProgramStep {
  program: string;
  args: string[];
  env?: Record<string, string>;
}

/** `a | b`: the first program's stdout into the second's stdin; both must succeed. */
export async function pipePrograms(a: ProgramStep, b: ProgramStep, timeoutMs = 60 * 60_000): Promise<{ durationMs: number }> {
  const started = Date.now();
  const src = spawnProgram(a.program, a.args, { env: a.env, timeoutMs });
  const dst = src.pipe(b.program, b.args, { env: childEnv(b.env), extendEnv: false, reject: false, timeout: timeoutMs, cwd: '/', buffer: { stdout: false, stderr: true } });
  const [rb, ra] = await Promise.all([dst, src]);
  for (const [r, step] of [
    [ra, a],
    [rb, b],
  ] as const) {
    if (r.exitCode !== 0) {
      throw failure('PG_PROGRAM_FAILED', `${commandLine(step.program, step.args)} failed (exit ${r.exitCode ?? -1}).`, { details: tail(String(r.stderr ?? '')) });
    }
  }
  return { durationMs: Date.now() - started };
}

/** pg_dump -Fc -t … | pg_restore -d … (the usual manual way; the bench's baseline). */
export function pgDumpRestorePipe(bin: PgBinaries, from: ConnParams, to: ConnParams, tables: { schema: string; name: string }[]): Promise<{ durationMs: number }> {
  const dumpArgs = ['-d', toConninfo(from), '-Fc'];
  for (const t of tables) dumpArgs.push('-t', `${exactPattern(t.schema)}.${exactPattern(t.name)}`);
  return pipePrograms(
    { program: bin.path('pg_dump'), args: dumpArgs, env: programEnv(from) },
    { program: bin.path('pg_restore'), args: ['-d', toConninfo(to), '--exit-on-error', '--single-transaction', '--no-owner'], env: programEnv(to) },
  );
}

/** psql -c "\copy (…) to stdout" | psql -c "\copy … from stdin" (the bench's second baseline). */
export function psqlCopyPipe(bin: PgBinaries, from: ConnParams, to: ConnParams, copyOut: string, copyIn: string): Promise<{ durationMs: number }> {
  return pipePrograms(
    { program: bin.path('psql'), args: ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', toConninfo(from), '-c', copyOut], env: programEnv(from) },
    { program: bin.path('psql'), args: ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', toConninfo(to), '-c', copyIn], env: programEnv(to) },
  );
}
