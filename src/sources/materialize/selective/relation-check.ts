// After a relation-level selective restore, before anything reads the lost
// tables: at the recovery point, do they (with their TOAST and indexes) still
// live in files that were restored? A table renamed after the backup onto a
// name that was lost could be one whose files were left sparse; its relation
// files must then come from a fuller restore. A file rewritten by replay
// (TRUNCATE, VACUUM FULL) has a new filenode and is whole.
import { withClient } from '../../../postgres/connect.js';
import type { ConnParams } from '../../../postgres/conninfo.js';
import { displayName, qualified, type TableName } from '../../../postgres/identifiers.js';
import type { RelationPlan } from './relation-plan.js';

/** The lost tables (display names) one of whose relation files was left sparse; a table that does not exist is verifyTables' to report. */
export async function lostRelationsLeftSparse(conn: ConnParams, tables: readonly TableName[], plan: RelationPlan): Promise<string[]> {
  return withClient(conn, async (c) => {
    const out: string[] = [];
    for (const t of tables) {
      const r = await c.query<{ fn: string | null }>(
        `with t as (select oid, reltoastrelid from pg_class where oid = to_regclass($1))
         select pg_relation_filenode(x)::text as fn from (
           select oid as x from t
           union all select reltoastrelid from t where reltoastrelid <> 0
           union all select indexrelid from pg_index where indrelid in (select oid from t union all select reltoastrelid from t)
         ) s`,
        [qualified(t)],
      );
      if (r.rows.some((x) => x.fn !== null && plan.sparse.has(Number(x.fn)))) out.push(displayName(t));
    }
    return out;
  });
}
