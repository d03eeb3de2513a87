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

export function pgCtlPromote(bin: PgBinaries, dataDir: string): Promise<RunResult> {
  return runProgram(bin.path('pg_ctl'), ['-D', dataDir, '-w', 'promote'], { asServerUser: true, timeoutMs: 120_000 });
}

export function pgCtlStatus(bin: PgBinaries, dataDir: string): Promise<RunResult> {
  return runProgram(bin.path('pg_ctl'), ['-D', dataDir, 'status'], { asServerUser: true, allowFailure: true, timeoutMs: 10_000 });
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
