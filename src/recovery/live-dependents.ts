// What else points at a live table that replace would rename aside. A
// foreign key is handled by replace itself (reported, or re-created with
// --recreate-foreign-keys); everything below keeps pointing at the renamed
// (post-incident) table after replace, silently: views, rules, SQL-body
// functions, row-level-security policies of other tables, publications,
// partitioning, and triggers of other tables whose function names it.
import type pg from 'pg';
import { failure } from '../errors.js';
import { connect } from '../postgres/connect.js';
import type { ConnParams } from '../postgres/conninfo.js';
import { displayName } from '../postgres/identifiers.js';
import { tableOid } from './catalog.js';

export interface LiveDependents {
  /** The live table, display form. */
  table: string;
  /** One line per dependent ("view public.shipments_open"). */
  dependents: string[];
}

const DEPENDENTS_SQL = `
  SELECT DISTINCT what FROM (
    SELECT CASE WHEN r.rulename = '_RETURN' THEN (CASE c.relkind WHEN 'm' THEN 'materialized view ' ELSE 'view ' END) || r.ev_class::regclass::text
                ELSE 'rule ' || quote_ident(r.rulename) || ' on ' || r.ev_class::regclass::text END AS what
      FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class c ON c.oid = r.ev_class
     WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = $1 AND r.ev_class <> $1
    UNION ALL
    SELECT 'function ' || p.oid::regprocedure::text || ' (SQL body)'
      FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
     WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = $1
    UNION ALL
    SELECT 'row-level-security policy ' || quote_ident(pol.polname) || ' on ' || pol.polrelid::regclass::text
      FROM pg_depend d JOIN pg_policy pol ON pol.oid = d.objid
     WHERE d.classid = 'pg_policy'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = $1 AND pol.polrelid <> $1
    UNION ALL
    SELECT 'publication ' || quote_ident(pub.pubname) FROM pg_publication_rel pr JOIN pg_publication pub ON pub.oid = pr.prpubid WHERE pr.prrelid = $1
    UNION ALL
    SELECT 'partition of ' || i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = $1
    UNION ALL
    SELECT 'partition or child table ' || i.inhrelid::regclass::text FROM pg_inherits i WHERE i.inhparent = $1
    UNION ALL
    SELECT 'trigger ' || quote_ident(tg.tgname) || ' on ' || tg.tgrelid::regclass::text || ' (its function ' || p.oid::regproc::text || ' names the table)'
      FROM pg_trigger tg JOIN pg_proc p ON p.oid = tg.tgfoid
     WHERE NOT tg.tgisinternal AND tg.tgrelid <> $1 AND p.prosrc IS NOT NULL AND position(lower($2) IN lower(p.prosrc)) > 0
  ) x ORDER BY 1`;

/** Non-foreign-key dependents of one live table (by oid), read in the caller's transaction. */
export async function dependentsOf(c: pg.Client, oid: number, name: string): Promise<string[]> {
  return (await c.query<{ what: string }>(DEPENDENTS_SQL, [oid, name])).rows.map((r) => r.what);
}

/** For the confirmation: the dependents of each live table replace would rename (no locks). */
export async function replacePreview(production: ConnParams, tables: { original: { schema: string; name: string } }[]): Promise<LiveDependents[]> {
  const c = await connect(production, { applicationName: 'undrop promote (replace preview)', statementTimeoutMs: 60_000 });
  try {
    const out: LiveDependents[] = [];
    for (const t of tables) {
      const oid = await tableOid(c, t.original.schema, t.original.name);
      if (oid === undefined) continue;
      const dependents = await dependentsOf(c, oid, t.original.name);
      if (dependents.length) out.push({ table: displayName(t.original), dependents });
    }
    return out;
  } finally {
    await c.end().catch(() => {});
  }
}

/** One line per table for the confirmation. Pure. */
export function dependentLines(found: LiveDependents[]): string[] {
  return found.map((f) => `${f.table} has dependents that will keep pointing at the renamed (post-incident) table, not the recovered one: ${f.dependents.join('; ')}`);
}

/** Replace refuses dependents it cannot move unless --allow-dependents says the person knows. */
export function dependentsRefusal(found: LiveDependents[], retry: string): Error {
  return failure('LIVE_TABLE_DEPENDENTS', `Replace would leave objects pointing at the renamed live table: ${found.map((f) => `${f.table} (${f.dependents.join('; ')})`).join(', ')}. Nothing live was changed.`, {
    hint: `These keep pointing at the post-incident table after the rename (a view would show the new rows, not the recovered ones). Re-create them on the recovered table afterwards, or merge instead (--mode merge). To replace anyway: ${retry} --allow-dependents.`,
    details: dependentLines(found),
  });
}
