// What came back, read from production after verify (read-only): a few
// sample rows of each recovered table, and the live table's size for the
// promote question (what replace would set aside).
import { withClient } from '../postgres/connect.js';
import type { ConnParams } from '../postgres/conninfo.js';
import { parseTableName, qualified } from '../postgres/identifiers.js';

export interface CameBackTable {
  name: string;
  recoveredAs: string;
  /** Row text of the first few rows (cut to one line each). */
  sample: string[];
  /** The live table's planner estimate (null: no live table). */
  liveRows: number | null;
}

export async function cameBack(production: ConnParams, tables: readonly { name: string; recoveredAs: string }[], n = 3): Promise<CameBackTable[]> {
  return withClient(
    production,
    async (c) => {
      const out: CameBackTable[] = [];
      for (const t of tables) {
        const rec = parseTableName(t.recoveredAs);
        const live = parseTableName(t.name);
        // (t.*): a bare t would mean a column named t, when the table has one
        const rows = await c.query<{ r: string }>(`SELECT (t.*)::text AS r FROM ${qualified({ schema: rec.schema ?? 'public', name: rec.name })} t LIMIT ${Math.max(0, Math.floor(n))}`);
        const liveName = qualified({ schema: live.schema ?? 'public', name: live.name });
        const est = await c.query<{ n: string | null }>(`SELECT (SELECT reltuples::int8::text FROM pg_class WHERE oid = to_regclass($1)) AS n`, [liveName]);
        let liveRows = est.rows[0]?.n == null ? null : Number(est.rows[0].n);
        // Exact below a million rows (a table recreated by the incident has a stale or no estimate); above, the estimate.
        if (liveRows !== null && liveRows < 1_000_000) liveRows = Number((await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${liveName}`)).rows[0]!.n);
        out.push({ name: t.name, recoveredAs: t.recoveredAs, sample: rows.rows.map((x) => (x.r.length > 100 ? `${x.r.slice(0, 99)}…` : x.r)), liveRows });
      }
      return out;
    },
    { applicationName: 'undrop (what came back)', statementTimeoutMs: 30_000, lockTimeoutMs: 2000 },
  );
}
