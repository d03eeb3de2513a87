// `lab down`: stop every process the lab started (the workload by pid, the
// servers with pg_ctl, then by postmaster pid if pg_ctl fails) and remove the
// lab folder. Works on a lab whose build crashed halfway and on one whose
// processes are already gone. Refuses a folder that is not a lab.
import { existsSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { usageError } from '../errors.js';
import { findBinaries, type PgBinaries } from '../postgres/binaries.js';
import { readPostmasterPid } from '../postgres/instance.js';
import { pgCtlStop } from '../postgres/programs.js';
import type { LabLayout } from './layout.js';
import { isOurs, terminate, waitGone } from './processes.js';
import { readState, type LabState } from './state.js';
import { stopWorkload } from './workload.js';
import { stopBarman } from './barman.js';

export interface StoppedProcess {
  what: string;
  pid: number;
  how: 'pg_ctl' | 'signal' | 'already gone';
}

/** Data directories that may have a running server: the recorded ones, then any */
/** <lab>/<x>/data and <lab>/work/<x>/data (temporary instances of recoveries run against the lab). */
export function candidateDataDirs(layout: LabLayout, state: LabState | undefined): string[] {
  const dirs = new Set<string>();
  if (state?.replica) dirs.add(state.replica.dataDir);
  if (state?.primary) dirs.add(state.primary.dataDir);
  const scan = (parent: string) => {
    let names: string[] = [];
    try {
      names = readdirSync(parent);
    } catch {
      return;
    }
    for (const n of names) {
      const d = join(parent, n, 'data');
      if (existsSync(join(d, 'PG_VERSION'))) dirs.add(d);
    }
  };
  scan(join(layout.dir, 'work'));
  scan(layout.dir);
  // Replica first (it streams from the primary), temp instances, the primary last.
  const primary = state?.primary?.dataDir ?? join(layout.primaryRoot, 'data');
  return [...dirs].sort((a, b) => Number(a === primary) - Number(b === primary));
}

async function stopServer(bin: PgBinaries | undefined, dataDir: string): Promise<StoppedProcess | undefined> {
  const pid = readPostmasterPid(dataDir);
  if (!pid) return undefined;
  if (!isOurs(pid, 'postgres')) return { what: dataDir, pid, how: 'already gone' };
  if (bin) {
    const r = await pgCtlStop(bin, dataDir, 'fast', 30).catch(() => undefined);
    if (r?.exitCode === 0 && (await waitGone(pid, 10_000))) return { what: dataDir, pid, how: 'pg_ctl' };
    const r2 = await pgCtlStop(bin, dataDir, 'immediate', 15).catch(() => undefined);
    if (r2?.exitCode === 0 && (await waitGone(pid, 10_000))) return { what: dataDir, pid, how: 'pg_ctl' };
  }
  // SIGQUIT is PostgreSQL's immediate shutdown; then SIGKILL as the last resort.
  try {
    process.kill(pid, 'SIGQUIT');
  } catch {
    /* gone */
  }
  if (!(await waitGone(pid, 10_000))) await terminate(pid, 'postgres', 1000);
  return { what: dataDir, pid, how: 'signal' };
}

/** Stop the workload and every server of the lab; files stay. */
export async function stopLabProcesses(layout: LabLayout, state: LabState | undefined): Promise<StoppedProcess[]> {
  const stopped: StoppedProcess[] = [];
  if (state?.workload) {
    const alive = isOurs(state.workload.pid, 'pgbench');
    await stopWorkload(state.workload.pid);
    stopped.push({ what: 'workload (pgbench)', pid: state.workload.pid, how: alive ? 'signal' : 'already gone' });
  }
  // Barman's receive-wal streams from the primary: stopped before the servers.
  if (state?.barman && existsSync(state.barman.config)) await stopBarman(state.barman.config);
  let bin: PgBinaries | undefined;
  try {
    bin = await findBinaries(state?.pg.major);
  } catch {
    bin = undefined;
  }
  for (const d of candidateDataDirs(layout, state)) {
    const s = await stopServer(bin, d);
    if (s) stopped.push(s);
  }
  return stopped;
}

export interface DownResult {
  dir: string;
  existed: boolean;
  stopped: StoppedProcess[];
  removed: string[];
}

export async function labDown(layout: LabLayout): Promise<DownResult> {
  if (!existsSync(layout.dir)) return { dir: layout.dir, existed: false, stopped: [], removed: [] };
  const state = await readState(layout);
  if (!state && readdirSync(layout.dir).length > 0) {
    throw usageError('LAB_NOT_A_LAB', `${layout.dir} is not a lab (no lab.json), so lab down leaves it alone.`, 'Point --dir at a folder made by `undrop lab up`.');
  }
  const stopped = await stopLabProcesses(layout, state);
  const removed = [layout.dir];
  await rm(layout.dir, { recursive: true, force: true });
  if (state?.socketDirOutside && existsSync(state.socketDir)) {
    await rm(state.socketDir, { recursive: true, force: true });
    removed.push(state.socketDir);
  }
  return { dir: layout.dir, existed: true, stopped, removed };
}
