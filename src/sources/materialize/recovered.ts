// The common end of every materialize that replays WAL (PITR, pgBackRest, a
// recovered copy of a replica): the promoted instance, its tables checked,
// and the recovery point as the server log tells it.
import type { TempInstance } from '../../postgres/instance.js';
import { phase } from '../../postgres/phases.js';
import type { RecoveryOutcome } from '../../postgres/recovery-watch.js';
import type { Materialized, MaterializeRequest } from '../types.js';
import { tablesPresent, verifyTables } from './preflight.js';

export async function recoveredInstance(inst: TempInstance, req: MaterializeRequest, outcome: RecoveryOutcome, label: string, notes: string[]): Promise<Materialized> {
  const conn = inst.connParams(req.database);
  // The caller may take the counts from copy back's source checksums (they read every row, and every page, anyway).
  const tables = req.rowsCountedByCaller
    ? await phase(`${inst.name}: check the tables are there`, () => tablesPresent(conn, req.tables, label))
    : await phase(`${inst.name}: count the tables' rows`, () => verifyTables(conn, req.tables, label));
  return {
    ...(req.rowsCountedByCaller ? { rowsPending: true } : {}),
    instance: inst,
    conn,
    database: req.database,
    recoveryPoint: { time: outcome.lastTransactionTime ?? null, lsn: outcome.redoDoneLsn ?? null, xid: req.target.xid ?? null, basis: outcome.stopLine ?? 'end of recovery' },
    tables,
    notes,
    release: () => inst.destroy(),
  };
}
