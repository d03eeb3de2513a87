// Before anything is restored (`undrop probe --tables`): do the live tables
// look recreated, with their keys started again? Probe does not read WAL, so
// it cannot know of a DROP + recreate; it sees that a live table's primary
// key comes from its own sequence or identity and that its highest key is
// below the row count a source holds for the table: the keys restarted, and
// the live rows (all written since) will collide with lost rows in a merge.
// `recover` says the same from locate's exact answer.
import type pg from 'pg';
import { withClient } from '../postgres/connect.js';
import type { ConnParams } from '../postgres/conninfo.js';
import { displayName, qualified, quoteIdent, type TableName } from '../postgres/identifiers.js';

export interface CollisionHint {
  table: string;
  liveRows: number;
  liveMaxKey: string;
  /** The most rows a source holds for the table, and which source. */
  sourceRows: number;
  source: string;
  message: string;
}

interface LiveKey {
  table: string;
  liveRows: number;
  /** Highest key when the primary key is one integer column drawn from the table's own sequence or identity. */
  maxKey: bigint | null;
}

/** Which live tables look restarted, given what the sources hold. Pure. */
export function collisionHints(live: LiveKey[], sources: { name: string; status: string; tables: { name: string; present: boolean; rows: number | null }[] }[]): CollisionHint[] {
  const out: CollisionHint[] = [];
  for (const l of live) {
    if (l.maxKey === null || l.liveRows === 0) continue;
    let best: { rows: number; source: string } | undefined;
    for (const s of sources) {
      if (s.status === 'unusable') continue;
      const t = s.tables.find((x) => x.name === l.table && x.present && x.rows !== null);
      if (t && (!best || t.rows! > best.rows)) best = { rows: t.rows!, source: s.name };
    }
    if (!best || BigInt(best.rows) <= l.maxKey) continue;
    out.push({
      table: l.table,
      liveRows: l.liveRows,
      liveMaxKey: l.maxKey.toString(),
      sourceRows: best.rows,
      source: best.source,
      message: `${l.table}: its keys look restarted (highest live key ${l.maxKey}, while ${best.source} holds ${best.rows} rows): if the incident dropped and recreated it, its ${l.liveRows} live row(s) were written since and reuse lost rows' keys, so a merge will meet collisions (--on-conflict).`,
    });
  }
  return out;
}

async function liveKey(c: pg.Client, t: TableName): Promise<LiveKey | undefined> {
  const rel = { schema: t.schema ?? 'public', name: t.name };
  const name = qualified(rel);
  if (!(await c.query(`SELECT to_regclass($1::text) IS NOT NULL AS e`, [name])).rows[0].e) return undefined;
  const key = await c.query<{ attname: string }>(
    `SELECT a.attname FROM pg_constraint con, unnest(con.conkey) k(n) JOIN pg_attribute a ON a.attnum = k.n
      WHERE con.conrelid = $1::text::regclass AND con.contype = 'p' AND a.attrelid = con.conrelid
        AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) AND pg_get_serial_sequence($1::text, a.attname) IS NOT NULL
        AND array_length(con.conkey, 1) = 1`,
    [name],
  );
  const col = key.rows[0]?.attname;
  const r = await c.query<{ n: string; m: string | null }>(`SELECT count(*)::bigint AS n, ${col ? `max(${quoteIdent(col)})` : 'NULL'}::text AS m FROM ${name}`);
  return { table: displayName(rel), liveRows: Number(r.rows[0]!.n), maxKey: col && r.rows[0]!.m !== null ? BigInt(r.rows[0]!.m) : null };
}

/** Read the live tables (read-only, short timeouts) and compare with the probe's row counts. */
export async function probeCollisionHints(production: ConnParams, tables: TableName[], sources: Parameters<typeof collisionHints>[1]): Promise<CollisionHint[]> {
  if (!tables.length) return [];
  const live = await withClient(
    production,
    async (c) => {
      const out: LiveKey[] = [];
      for (const t of tables) {
        const k = await liveKey(c, t);
        if (k) out.push(k);
      }
      return out;
    },
    { applicationName: 'undrop probe', statementTimeoutMs: 30_000, lockTimeoutMs: 2000 },
  );
  return collisionHints(live, sources);
}
