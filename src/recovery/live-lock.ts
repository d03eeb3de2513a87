// Locking live tables before promote: lock_timeout, and when another session
// holds the table, a message that names it (pid, user, application, state).
import type pg from 'pg';
import { failure } from '../errors.js';
import { displayName, quoteIdent } from '../postgres/identifiers.js';
import { isLockTimeout } from './pg-errors.js';

export type LockMode = 'ACCESS EXCLUSIVE' | 'SHARE ROW EXCLUSIVE';

export interface Blocker {
  pid: number;
  user: string | null;
  application: string | null;
  state: string | null;
  query: string | null;
}

export async function blockersOf(client: pg.Client, schema: string, name: string): Promise<Blocker[]> {
  const r = await client.query<{ pid: number; usename: string | null; application_name: string | null; state: string | null; query: string | null }>(
    `SELECT DISTINCT a.pid, a.usename::text, a.application_name, a.state, left(a.query, 120) AS query
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND l.granted AND a.pid <> pg_backend_pid()
      ORDER BY a.pid`,
    [schema, name],
  );
  return r.rows.map((x) => ({ pid: x.pid, user: x.usename, application: x.application_name, state: x.state, query: x.query }));
}

/** Lock each table (inside the caller's transaction), giving up after timeoutMs with a clear LIVE_TABLE_BUSY. */
export async function lockLiveTables(client: pg.Client, tables: { schema: string; name: string }[], mode: LockMode, timeoutMs: number): Promise<void> {
  await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(timeoutMs))}`);
  for (const t of tables) {
    await client.query('SAVEPOINT undrop_lock');
    try {
      await client.query(`LOCK TABLE ${quoteIdent(t.schema)}.${quoteIdent(t.name)} IN ${mode} MODE`);
      await client.query('RELEASE SAVEPOINT undrop_lock');
    } catch (e) {
      if (!isLockTimeout(e)) throw e;
      await client.query('ROLLBACK TO SAVEPOINT undrop_lock');
      const blockers = await blockersOf(client, t.schema, t.name).catch(() => []);
      throw failure('LIVE_TABLE_BUSY', `${displayName(t)} is locked by another session; gave up after ${(timeoutMs / 1000).toFixed(timeoutMs % 1000 ? 1 : 0)} s. Nothing was changed.`, {
        hint: blockers.length
          ? `Let that session finish (or end it: SELECT pg_terminate_backend(${blockers[0]!.pid})), or pause the application, then run recover again (without --schema, or with a new name: the side schema of this run stays for inspection).`
          : 'Let the other session finish, or pause the application, then run recover again (without --schema, or with a new name: the side schema of this run stays for inspection).',
        details: blockers.map((b) => `pid ${b.pid}  user ${b.user ?? '?'}  application ${b.application || '-'}  state ${b.state ?? '?'}  query: ${(b.query ?? '').replace(/\s+/g, ' ')}`),
        cause: e,
      });
    }
  }
}
