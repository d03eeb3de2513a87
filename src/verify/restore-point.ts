// Checksums against production at exactly the same point: verify makes a
// named restore point on production while the chosen (small) tables are
// locked against writes (SHARE mode: reads go on), checksums them in that
// same transaction, switches WAL so the point is archived, and the WAL
// sources are then restored to that name. Equal checksums prove the backup
// and its WAL give back production's data exactly.
import { withClient } from '../postgres/connect.js';
import type { ConnParams } from '../postgres/conninfo.js';
import { type TableName, displayName, qualified } from '../postgres/identifiers.js';
import { type HashFingerprint, type TableChecksum, hashFingerprint, tableChecksum } from '../recovery/checksum.js';
import { sleep } from '../util/time.js';

export interface ProductionPoint {
  name: string;
  lsn: string;
  time: string;
  fingerprint: HashFingerprint;
  checksums: Record<string, TableChecksum>;
}

export async function createProductionPoint(prod: ConnParams, tables: TableName[], archiveWaitMs = 120_000): Promise<ProductionPoint> {
  const name = `undrop_verify_${new Date().toISOString().replace(/[-:.]/g, '')}`;
  return withClient(
    prod,
    async (c) => {
      await c.query('BEGIN');
      let point: ProductionPoint;
      try {
        await c.query("SET LOCAL lock_timeout = '5s'");
        if (tables.length) await c.query(`LOCK TABLE ${tables.map((t) => qualified(t)).join(', ')} IN SHARE MODE`);
        const r = await c.query<{ lsn: string; t: Date }>('select pg_create_restore_point($1)::text as lsn, clock_timestamp() as t', [name]);
        const checksums: Record<string, TableChecksum> = {};
        for (const t of tables) checksums[displayName(t)] = await tableChecksum(c, t, { inTransaction: true });
        point = { name, lsn: r.rows[0]!.lsn, time: r.rows[0]!.t.toISOString(), fingerprint: await hashFingerprint(c), checksums };
        await c.query('COMMIT');
      } catch (e) {
        await c.query('ROLLBACK').catch(() => {});
        throw e;
      }
      // The segment holding the restore point must reach the archive before a restore can replay to it.
      const sw = await c.query<{ f: string }>('select pg_walfile_name(pg_switch_wal()) as f');
      const segment = sw.rows[0]!.f;
      const until = Date.now() + archiveWaitMs;
      for (;;) {
        const a = await c.query<{ last: string | null }>('select last_archived_wal as last from pg_stat_archiver');
        const last = a.rows[0]!.last;
        if (last && last.slice(0, 24) >= segment) break;
        if (Date.now() > until) throw new Error(`production did not archive ${segment} within ${Math.round(archiveWaitMs / 1000)} s`);
        await sleep(500);
      }
      return point;
    },
    { statementTimeoutMs: 300_000, applicationName: 'undrop verify' },
  );
}
