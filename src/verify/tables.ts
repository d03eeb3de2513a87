// Listing and counting a database's user tables, read-only. lock_timeout
// keeps a count from waiting behind a lock (on a delayed replica, the startup
// process holds a replayed DROP's AccessExclusiveLock until the commit is
// applied: the lock trap); such a table is reported as not counted.
import type pg from 'pg';
import { type TableName, displayName, quoteIdent } from '../postgres/identifiers.js';

export interface CountedTable {
  name: string;
  /** null when the count could not be taken (locked, cancelled). */
  rows: number | null;
  note?: string;
}

const LIST_SQL = `select n.nspname as s, c.relname as t from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r','p') and not c.relispartition and n.nspname not in ('pg_catalog','information_schema') and n.nspname not like 'pg_toast%'
    and n.nspname not like 'undrop\\_%' order by 1, 2`;

export async function listTables(c: pg.Client): Promise<TableName[]> {
  const r = await c.query<{ s: string; t: string }>(LIST_SQL);
  return r.rows.map((row) => ({ schema: row.s, name: row.t }));
}

/** count(*) of each table; a lock or statement timeout leaves that table uncounted instead of failing the run. */
export async function countTables(c: pg.Client, tables: TableName[], lockTimeoutMs = 2_000): Promise<CountedTable[]> {
  await c.query(`set lock_timeout = ${Math.round(lockTimeoutMs)}`);
  const out: CountedTable[] = [];
  for (const t of tables) {
    try {
      const n = await c.query<{ n: string }>(`select count(*)::text as n from ${quoteIdent(t.schema ?? 'public')}.${quoteIdent(t.name)}`);
      out.push({ name: displayName(t), rows: Number(n.rows[0]!.n) });
    } catch (e) {
      const code = (e as { code?: string }).code;
      // 55P03 lock_not_available, 57014 query_canceled (statement timeout, or a standby conflict).
      if (code === '55P03' || code === '57014' || code === '40001') out.push({ name: displayName(t), rows: null, note: code === '55P03' ? 'locked (replay holds it): not counted' : 'count cancelled: not counted' });
      else throw e;
    }
  }
  return out;
}
