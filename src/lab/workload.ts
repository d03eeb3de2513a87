// The background workload: a detached pgbench committing a few application
// transactions a second (new shipments, their first event, sometimes an
// invoice) until `lab down` stops it by pid. Ids come from a sequence the
// incident does not drop, so after the incident it keeps inserting into the
// recreated tables, as the real application did.
import { writeFile } from 'node:fs/promises';
import type { PgBinaries } from '../postgres/binaries.js';
import { withClient } from '../postgres/connect.js';
import type { ConnParams } from '../postgres/conninfo.js';
import { pgbenchDetached } from '../postgres/lab-programs.js';
import { sleep } from '../util/time.js';
import { LAB_DATABASE, WORKLOAD_SQL } from './dataset.js';
import type { LabLayout } from './layout.js';
import { isAlive, terminate } from './processes.js';

export const WORKLOAD_RATE = 3;
/** Its application_name: how the primary's sessions tell it apart. */
const WORKLOAD_APP = 'lab-workload';
/** Ten days: the workload runs until `lab down`. */
const WORKLOAD_SECONDS = 864_000;

export async function startWorkload(bin: PgBinaries, layout: LabLayout, conn: { socketDir: string; port: number; user: string }): Promise<{ pid: number; rate: number }> {
  await writeFile(layout.workloadScript, WORKLOAD_SQL);
  const args = ['-h', conn.socketDir, '-p', String(conn.port), '-U', conn.user, '-n', '-M', 'simple', '-c', '1', '-R', String(WORKLOAD_RATE), '-T', String(WORKLOAD_SECONDS), '-f', layout.workloadScript, LAB_DATABASE];
  const pid = pgbenchDetached(bin, args, { logFile: layout.workloadLog, env: { PGAPPNAME: WORKLOAD_APP } });
  // A pgbench that cannot connect exits at once: notice it here, not at the
  // incident. Its session in pg_stat_activity says it connected (a fixed 1 s
  // wait cost every lab build that second).
  const server = { host: conn.socketDir, port: conn.port, user: conn.user, database: 'postgres' };
  for (const end = Date.now() + 60_000; ; await sleep(50)) {
    if (!isAlive(pid)) throw new Error(`The workload (pgbench) exited at once; see ${layout.workloadLog}.`);
    if (await workloadConnected(server)) return { pid, rate: WORKLOAD_RATE };
    if (Date.now() > end) throw new Error(`The workload (pgbench, pid ${pid}) did not connect within 60 s; see ${layout.workloadLog}.`);
  }
}

async function workloadConnected(server: ConnParams): Promise<boolean> {
  const r = await withClient(server, (c) => c.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = '${WORKLOAD_APP}'`));
  return r.rows[0]!.n > 0;
}

export function stopWorkload(pid: number): Promise<boolean> {
  return terminate(pid, 'pgbench');
}
