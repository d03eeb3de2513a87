// The common end of every materialize that replays WAL (PITR, pgBackRest, a
// recovered copy of a replica): the promoted instance, its tables checked,
// and the recovery point as the server log tells it.
import type { TempInstance } from '../../postgres/instance.js';
import type { RecoveryOutcome } from '../../postgres/recovery-watch.js';
import type { Materialized, MaterializeRequest } from '../types.js';
import { copyTables } from './preflight.js';

export async function recoveredInstance(inst: TempInstance, req: MaterializeRequest, outcome: RecoveryOutcome, label: string, notes: string[]): Promise<Materialized> {
  const conn = inst.connParams(req.database);
  const { tables, rowsPending } = await copyTables(conn, req, label, inst.name);
  return {
    ...(rowsPending ? { rowsPending } : {}),
    instance: inst,
    conn,
    database: req.database,
    recoveryPoint: { time: outcome.lastTransactionTime ?? null, lsn: outcome.redoDoneLsn ?? null, xid: req.target.xid ?? null, basis: outcome.stopLine ?? 'end of recovery' },
    tables,
    notes,
    release: () => inst.destroy(),
  };
}
