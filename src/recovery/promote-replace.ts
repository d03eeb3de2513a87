// Promote by replace, in one transaction under lock_timeout: each live table
// (if there is one) is renamed aside to <name>_before_undrop_<ts> with its
// indexes and owned sequences (never dropped), and the recovered table is
// moved from the side schema into the original schema under the original
// name; its owned sequences, indexes and constraints follow. Grants and the
// owner of the live table are carried over to the recovered one when
// possible. FKs from other live tables that pointed at the replaced table
// are reported (they keep pointing at the renamed one) and re-created
// against the recovered table only when asked.
import type pg from 'pg';
import { usageError } from '../errors.js';
import { connect } from '../postgres/connect.js';
import type { ConnParams } from '../postgres/conninfo.js';
import { displayName, quoteIdent } from '../postgres/identifiers.js';
import { stamp } from '../util/time.js';
import { foreignKeysInto, tableOid } from './catalog.js';
import { lockLiveTables } from './live-lock.js';
import { commitOrFindOut } from './commit.js';
import { dependentsOf, dependentsRefusal, type LiveDependents } from './live-dependents.js';
import { productionWriteError } from './pg-errors.js';
import { withSuffix } from './side-schema.js';
import { silentTimeline, type Timeline } from './timeline.js';

export interface PromoteTable {
  original: { schema: string; name: string };
  recoveredAs: { schema: string; name: string };
}

export interface ReplaceRequest {
  production: ConnParams;
  /** Usually CopyBackResult.tables. */
  tables: PromoteTable[];
  lockTimeoutMs?: number;
  /** statement_timeout of the promote session: bounds how long one statement holds the locks. */
  statementTimeoutMs?: number;
  /** Point FKs of other live tables at the recovered tables (NOT VALID first, validated when the rows allow). */
  recreateForeignKeys?: boolean;
  /** Replace even when views, policies, publications… point at a live table (they keep pointing at the renamed one). */
  allowDependents?: boolean;
  now?: Date;
  timeline?: Timeline;
}

export interface IncomingForeignKey {
  constraint: string;
  /** The live table that holds the FK. */
  table: string;
  /** The table it pointed at (display name of the original). */
  references: string;
  definition: string;
  action: 'reported' | 'recreated' | 'recreated-not-valid';
}

export interface ReplacedTable {
  name: string;
  /** Where the live table went; null when there was no live table. */
  liveRenamedTo: { schema: string; name: string } | null;
  liveRenamedToName: string | null;
  liveRows: number | null;
  rows: number;
  /** Grants copied from the live table, and whether the owner was carried over. */
  grants: string[];
  ownerCarried: boolean | null;
}

export interface ReplaceResult {
  tables: ReplacedTable[];
  foreignKeys: IncomingForeignKey[];
  /** "_before_undrop_YYYYMMDD_HHMMSS" */
  suffix: string;
  durationMs: number;
}

const q = quoteIdent;
const qn = (t: { schema: string; name: string }) => `${q(t.schema)}.${q(t.name)}`;

async function count(c: pg.Client, t: { schema: string; name: string }): Promise<number> {
  const r = await c.query<{ n: string }>(`SELECT count(*)::bigint AS n FROM ${qn(t)}`);
  return Number(r.rows[0]!.n);
}

/** Indexes and owned sequences of a table (names in its schema that would clash with the recovered table's). */
async function dependentNames(c: pg.Client, oid: number): Promise<{ kind: 'INDEX' | 'SEQUENCE'; name: string }[]> {
  const r = await c.query<{ kind: 'INDEX' | 'SEQUENCE'; name: string }>(
    `SELECT 'INDEX' AS kind, i.relname AS name FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = $1
     UNION ALL
     SELECT 'SEQUENCE', s.relname FROM pg_depend d JOIN pg_class s ON s.oid = d.objid
      WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = $1 AND d.deptype IN ('a', 'i') AND s.relkind = 'S'
     ORDER BY 1, 2`,
    [oid],
  );
  return r.rows;
}

/** GRANTs of one table onto another, and its owner; each in a savepoint so a missing right never aborts the promote. */
async function carryGrants(c: pg.Client, fromOid: number, to: { schema: string; name: string }): Promise<{ grants: string[]; ownerCarried: boolean }> {
  const acl = await c.query<{ grantee: string; privilege_type: string; is_grantable: boolean }>(
    `SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END AS grantee, a.privilege_type, a.is_grantable
       FROM pg_class c, LATERAL aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
      WHERE c.oid = $1 AND a.grantee <> c.relowner`,
    [fromOid],
  );
  const grants: string[] = [];
  for (const g of acl.rows) {
    const sql = `GRANT ${g.privilege_type} ON ${qn(to)} TO ${g.grantee}${g.is_grantable ? ' WITH GRANT OPTION' : ''}`;
    if (await trySql(c, sql)) grants.push(sql);
  }
  const owner = await c.query<{ owner: string }>(`SELECT quote_ident(pg_get_userbyid(relowner)) AS owner FROM pg_class WHERE oid = $1`, [fromOid]);
  const ownerCarried = await trySql(c, `ALTER TABLE ${qn(to)} OWNER TO ${owner.rows[0]!.owner}`);
  return { grants, ownerCarried };
}

async function trySql(c: pg.Client, sql: string): Promise<boolean> {
  await c.query('SAVEPOINT undrop_try');
  try {
    await c.query(sql);
    await c.query('RELEASE SAVEPOINT undrop_try');
    return true;
  } catch {
    await c.query('ROLLBACK TO SAVEPOINT undrop_try');
    return false;
  }
}

export async function promoteReplace(req: ReplaceRequest): Promise<ReplaceResult> {
  const tl = req.timeline ?? silentTimeline;
  const started = Date.now();
  const suffix = `_before_undrop_${stamp(req.now)}`;
  const c = await connect(req.production, { applicationName: 'undrop promote (replace)', statementTimeoutMs: req.statementTimeoutMs });
  try {
    await c.query('BEGIN');
    try {
      // Lock every live table first: if one is busy, nothing has been changed yet.
      const live: { t: PromoteTable; oid: number | undefined }[] = [];
      for (const t of req.tables) live.push({ t, oid: await tableOid(c, t.original.schema, t.original.name) });
      for (const t of req.tables) {
        if ((await tableOid(c, t.recoveredAs.schema, t.recoveredAs.name)) === undefined) {
          throw usageError('RECOVERED_TABLE_MISSING', `${displayName(t.recoveredAs)} does not exist in production; nothing to promote.`, 'Copy the tables back first (undrop recover --mode side-schema), then promote from that schema.');
        }
      }
      // Counted before the lock: a count of a big table under ACCESS EXCLUSIVE would stop the application for its whole duration.
      const counted = new Map<PromoteTable, { live: number | null; recovered: number }>();
      for (const l of live) counted.set(l.t, { live: l.oid === undefined ? null : await count(c, l.t.original), recovered: await count(c, l.t.recoveredAs) });
      tl.event('counted-before-lock', { tables: [...counted.entries()].map(([t, n]) => ({ table: displayName(t.original), liveRows: n.live, recoveredRows: n.recovered })) });
      await lockLiveTables(c, live.filter((l) => l.oid !== undefined).map((l) => l.t.original), 'ACCESS EXCLUSIVE', req.lockTimeoutMs ?? 5000);
      // Looked up again under the lock: a table swapped while we waited is the one we now hold.
      for (const l of live) l.oid = await tableOid(c, l.t.original.schema, l.t.original.name);
      const dependents: LiveDependents[] = [];
      for (const l of live) {
        if (l.oid === undefined) continue;
        const found = await dependentsOf(c, l.oid, l.t.original.name);
        if (found.length) dependents.push({ table: displayName(l.t.original), dependents: found });
      }
      if (dependents.length && !req.allowDependents) throw dependentsRefusal(dependents, 'rerun with');
      for (const d of dependents) tl.event('dependents-left-on-renamed-table', { ...d });
      const liveOids = live.flatMap((l) => (l.oid === undefined ? [] : [l.oid]));
      const incoming = liveOids.length ? await foreignKeysInto(c, liveOids) : [];

      const out: ReplacedTable[] = [];
      for (const { t, oid } of live) {
        let renamed: { schema: string; name: string } | null = null;
        let liveRows: number | null = null;
        if (oid !== undefined) {
          liveRows = counted.get(t)!.live;
          renamed = { schema: t.original.schema, name: withSuffix(t.original.name, suffix) };
          if ((await tableOid(c, renamed.schema, renamed.name)) !== undefined) {
            throw usageError('RENAME_TARGET_EXISTS', `${displayName(renamed)} already exists; the live table cannot be renamed aside.`, 'Wait a second and run the command again (the name carries a timestamp).');
          }
          for (const d of await dependentNames(c, oid)) {
            await c.query(`ALTER ${d.kind} ${q(t.original.schema)}.${q(d.name)} RENAME TO ${q(withSuffix(d.name, suffix))}`);
          }
          await c.query(`ALTER TABLE ${qn(t.original)} RENAME TO ${q(renamed.name)}`);
          tl.event('live-table-renamed', { table: displayName(t.original), renamedTo: displayName(renamed), rows: liveRows });
        }
        if (t.recoveredAs.name !== t.original.name) await c.query(`ALTER TABLE ${qn(t.recoveredAs)} RENAME TO ${q(t.original.name)}`);
        const from = { schema: t.recoveredAs.schema, name: t.original.name };
        if (from.schema !== t.original.schema) await c.query(`ALTER TABLE ${qn(from)} SET SCHEMA ${q(t.original.schema)}`);
        const carried = oid !== undefined ? await carryGrants(c, oid, t.original) : { grants: [], ownerCarried: null };
        const rows = counted.get(t)!.recovered;
        tl.event('recovered-table-promoted', { table: displayName(t.original), from: displayName(t.recoveredAs), rows });
        out.push({ name: displayName(t.original), liveRenamedTo: renamed, liveRenamedToName: renamed ? displayName(renamed) : null, liveRows, rows, ...carried });
      }

      const fks: IncomingForeignKey[] = [];
      for (const fk of incoming) {
        const target = live.find((l) => l.oid === fk.referenced)!.t.original;
        const entry: IncomingForeignKey = { constraint: fk.name, table: displayName(fk.table), references: displayName(target), definition: fk.definition, action: 'reported' };
        if (req.recreateForeignKeys) entry.action = await repointForeignKey(c, fk, target);
        tl.event('foreign-key-into-replaced-table', { ...entry });
        fks.push(entry);
      }
      // The side schema is ours; drop it when promote emptied it (RESTRICT: never anything else).
      const schemas = [...new Set(req.tables.map((t) => t.recoveredAs.schema))].filter((s) => !req.tables.some((t) => t.original.schema === s));
      for (const s of schemas) await trySql(c, `DROP SCHEMA ${q(s)} RESTRICT`);
      await commitOrFindOut(c, req.production, 'promote (replace)', tl);
      return { tables: out, foreignKeys: fks, suffix, durationMs: Date.now() - started };
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw productionWriteError(e, 'promote (replace)');
    }
  } finally {
    await c.end().catch(() => {});
  }
}

/** Re-create an FK of a live table so it references the recovered table (same columns, same rules). */
async function repointForeignKey(c: pg.Client, fk: { name: string; table: { schema: string; name: string }; definition: string }, target: { schema: string; name: string }): Promise<'recreated' | 'recreated-not-valid'> {
  // pg_get_constraintdef names the referenced table as it is now (the renamed one); build the new clause from the catalog instead.
  const r = await c.query<{ cols: string[]; refcols: string[]; upd: string; del: string; deferrable: boolean; deferred: boolean }>(
    `SELECT array(SELECT quote_ident(attname) FROM unnest(con.conkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o) AS cols,
            array(SELECT quote_ident(attname) FROM unnest(con.confkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.o) AS refcols,
            con.confupdtype AS upd, con.confdeltype AS del, con.condeferrable AS deferrable, con.condeferred AS deferred
       FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND con.conname = $3`,
    [fk.table.schema, fk.table.name, fk.name],
  );
  const x = r.rows[0]!;
  const action = (ch: string) => ({ a: 'NO ACTION', r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' })[ch] ?? 'NO ACTION';
  const clause = `FOREIGN KEY (${x.cols.join(', ')}) REFERENCES ${qn(target)} (${x.refcols.join(', ')}) ON UPDATE ${action(x.upd)} ON DELETE ${action(x.del)}${x.deferrable ? ' DEFERRABLE' : ''}${x.deferred ? ' INITIALLY DEFERRED' : ''}`;
  await c.query(`ALTER TABLE ${qn(fk.table)} DROP CONSTRAINT ${q(fk.name)}`);
  await c.query(`ALTER TABLE ${qn(fk.table)} ADD CONSTRAINT ${q(fk.name)} ${clause} NOT VALID`);
  return (await trySql(c, `ALTER TABLE ${qn(fk.table)} VALIDATE CONSTRAINT ${q(fk.name)}`)) ? 'recreated' : 'recreated-not-valid';
}
