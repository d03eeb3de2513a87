// Where a WAL scan for one transaction may start on a delayed replica: at its
// replay position, when the replica has replayed no record of that
// transaction. Every record the startup process replays moves the server's
// next transaction id past the record's own (subtransactions have larger
// ids than their parent), so a transaction id that is still "in the future"
// there has every record of its own, and of its subtransactions, after the
// replay position: a scan from there reads the whole transaction. When the
// replica replayed some of it (the lock trap, shared notes §3: the DROP's
// lock records are replayed at once, its COMMIT waits out the delay) or
// already committed it, the answer is undefined and the caller scans from
// its usual start.
import { withClient } from '../../postgres/connect.js';
import { resolveConnParams } from '../../postgres/conninfo.js';
import type { SourceConfigOf } from '../../inventory/schema.js';
import type { WalScanStart } from '../types.js';
import { fullXid } from '../common/xid.js';

/** SQLSTATE of pg_xact_status() for an id the server has not reached ("transaction ID … is in the future"). */
const INVALID_PARAMETER_VALUE = '22023';

export async function replicaScanStart(config: SourceConfigOf<'delayed-replica'>, req: { database: string; xid: string }): Promise<WalScanStart | undefined> {
  if (!/^\d+$/.test(req.xid)) return undefined;
  return withClient(
    { ...resolveConnParams(config.dsn), database: req.database },
    async (c) => {
      // The position first: replay may move on while we ask, and a later "in the future" still holds for an older start.
      const r = await c.query<{ rec: boolean; lsn: string | null; xmax: string }>('select pg_is_in_recovery() as rec, pg_last_wal_replay_lsn()::text as lsn, pg_snapshot_xmax(pg_current_snapshot())::text as xmax');
      const row = r.rows[0]!;
      if (!row.rec || !row.lsn) return undefined;
      const full = fullXid(req.xid, row.xmax);
      const status = await c.query('select pg_xact_status($1::text::xid8) as s', [full]).then(
        (x) => String(x.rows[0]?.s ?? 'unknown'),
        (e: { code?: string; message?: string }) => (e.code === INVALID_PARAMETER_VALUE && /in the future/.test(e.message ?? '') ? 'future' : undefined),
      );
      if (status !== 'future') return undefined;
      return { lsn: row.lsn, reason: `${config.name} is paused at ${row.lsn} and has replayed no record of transaction ${req.xid}` };
    },
    { connectTimeoutMs: 5000, statementTimeoutMs: 5000, applicationName: 'undrop locate' },
  );
}
