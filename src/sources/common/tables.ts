// Table presence and row counts, the same way for every source: the asked
// tables (present or not), or every table the source can list.
import type pg from 'pg';
import { type TableName, displayName } from '../../postgres/identifiers.js';
import type { TableInfo } from '../types.js';

export interface KnownTable {
  schema: string;
  name: string;
  rows: number | null;
  rowsKind?: 'exact' | 'estimate';
}

export function matchTables(asked: readonly TableName[], known: readonly KnownTable[], listLimit = 200): TableInfo[] {
  const info = (k: KnownTable): TableInfo => ({
    name: displayName({ schema: k.schema, name: k.name }),
    present: true,
    rows: k.rows,
    ...(k.rows !== null && k.rowsKind ? { rowsKind: k.rowsKind } : {}),
  });
  if (asked.length === 0) return known.slice(0, listLimit).map(info);
  return asked.map((t) => {
    const hit = known.find((k) => k.name === t.name && k.schema === (t.schema ?? 'public'));
    return hit ? info(hit) : { name: displayName(t), present: false, rows: null };
  });
}

/**
 * Tables of the connected database from the catalog only (no lock on the
 * tables themselves, so a replica's startup-process lock cannot block it):
 * reltuples as an estimate (null when never analyzed).
 */
export async function catalogTables(client: pg.Client, asked: readonly TableName[]): Promise<KnownTable[]> {
  const params: unknown[] = [];
  let filter = "n.nspname not in ('pg_catalog','information_schema') and n.nspname not like 'pg_toast%' and n.nspname not like 'pg_temp%'";
  if (asked.length > 0) {
    params.push(asked.map((t) => t.schema ?? 'public'), asked.map((t) => t.name));
    filter = '(n.nspname, c.relname) in (select * from unnest($1::text[], $2::text[]))';
  }
  const r = await client.query<{ schema: string; name: string; reltuples: string; relpages: number }>(
    `select n.nspname as schema, c.relname as name, c.reltuples::text as reltuples, c.relpages
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r','p') and ${filter}
      order by 1, 2 limit 1000`,
    params,
  );
  return r.rows.map((row) => {
    const est = Number(row.reltuples);
    return { schema: row.schema, name: row.name, rows: est >= 0 ? Math.round(est) : null, rowsKind: 'estimate' as const };
  });
}
