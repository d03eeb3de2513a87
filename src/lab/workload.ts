// The background workload: a detached pgbench committing a few application
// transactions a second (new shipments, their first event, sometimes an
// invoice) until `lab down` stops it by pid. Ids come from a sequence the
// incident does not drop, so after the incident it keeps inserting into the
// recreated tables, as the real application did.
import { writeFile } from 'node:fs/promises';
import type { PgBinaries } from '../postgres/binaries.js';
import { pgbenchDetached } from '../postgres/lab-programs.js';
import { sleep } from '../util/time.js';
import { LAB_DATABASE, WORKLOAD_SQL } from './dataset.js';
import type { LabLayout } from './layout.js';
import { isAlive, terminate } from './processes.js';

export const WORKLOAD_RATE = 3;
/** Ten days: the workload runs until `lab down`. */
const WORKLOAD_SECONDS = 864_000;

export async function startWorkload(bin: PgBinaries, layout: LabLayout, conn: { socketDir: string; port: number; user: string }): Promise<{ pid: number; rate: number }> {
  await writeFile(layout.workloadScript, WORKLOAD_SQL);
  const args = ['-h', conn.socketDir, '-p', String(conn.port), '-U', conn.user, '-n', '-M', 'simple', '-c', '1', '-R', String(WORKLOAD_RATE), '-T', String(WORKLOAD_SECONDS), '-f', layout.workloadScript, LAB_DATABASE];
  const pid = pgbenchDetached(bin, args, { logFile: layout.workloadLog, env: { PGAPPNAME: 'lab-workload' } });
  // A pgbench that cannot connect exits at once: notice it here, not at the incident.
  await sleep(1000);
  if (!isAlive(pid)) throw new Error(`The workload (pgbench) exited at once; see ${layout.workloadLog}.`);
  return { pid, rate: WORKLOAD_RATE };
}

export function stopWorkload(pid: number): Promise<boolean> {
  return terminate(pid, 'pgbench');
}
