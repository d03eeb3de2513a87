// The validation suite run against one restored source (or, read-only,
// against a delayed replica): the tables production has exist, their row
// counts are within tolerance of production's, the user's queries return
// what they expect, and optionally amcheck finds no corruption.
import type pg from 'pg';
import { type VerifyConfig, fraction } from '../inventory/verify-schema.js';
import { withClient } from '../postgres/connect.js';
import type { ConnParams } from '../postgres/conninfo.js';
import { type TableName, displayName, parseTableName, quoteIdent } from '../postgres/identifiers.js';
import { allowedRowDifference, describeExpectation, meetsExpectation } from './expect.js';
import { type CountedTable, countTables, listTables } from './tables.js';

export interface CheckResult {
  /** Stable name: restore, probe, tables, rows, query:NAME, amcheck, checksum, min_rows, duration. */
  check: string;
  ok: boolean;
  message: string;
}

export interface SuiteOptions {
  suite: VerifyConfig;
  /** Production's tables and counts (null: production unreachable, the table and row checks are skipped). */
  production: CountedTable[] | null;
  /** How old the source's recovery point is: row counts may lag production by this much. */
  ageMs: number;
  /** A delayed replica: nothing is created there (no amcheck extension). */
  readOnly: boolean;
}

const MAX_NAMED = 5;

function names(list: string[]): string {
  return list.slice(0, MAX_NAMED).join(', ') + (list.length > MAX_NAMED ? ` and ${list.length - MAX_NAMED} more` : '');
}

function wantedTables(suite: VerifyConfig, production: CountedTable[] | null): string[] | null {
  if (Array.isArray(suite.tables)) return suite.tables.map((t) => displayName(parseTableName(t)));
  return production ? production.map((t) => t.name) : null;
}

function rowCheck(o: SuiteOptions, wanted: string[], counted: CountedTable[]): CheckResult | null {
  if (!o.production) return null;
  const tol = fraction(o.suite.rows?.tolerance, 0.25);
  const perDay = fraction(o.suite.rows?.per_day, 0.1);
  const slack = o.suite.rows?.slack ?? 100;
  const off: string[] = [];
  let compared = 0;
  for (const name of wanted) {
    const prod = o.production.find((t) => t.name === name)?.rows;
    const got = counted.find((t) => t.name === name)?.rows;
    if (prod === undefined || prod === null || got === undefined || got === null) continue;
    compared++;
    const allowed = allowedRowDifference(prod, o.ageMs, tol, perDay, slack);
    if (Math.abs(prod - got) > allowed) off.push(`${name} ${got} rows, production ${prod} (±${allowed} allowed)`);
  }
  if (compared === 0) return null;
  return off.length
    ? { check: 'rows', ok: false, message: `Row counts off: ${names(off)}.` }
    : { check: 'rows', ok: true, message: `${compared} table(s) within tolerance of production's row counts.` };
}

async function queryChecks(c: pg.Client, suite: VerifyConfig): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const [i, q] of (suite.queries ?? []).entries()) {
    const check = `query:${q.name ?? i + 1}`;
    try {
      await c.query('BEGIN READ ONLY');
      const r = await c.query({ text: q.sql, rowMode: 'array' });
      await c.query('COMMIT');
      const value = (r.rows[0] as unknown[] | undefined)?.[0] ?? null;
      const ok = meetsExpectation(value, q.expect);
      out.push({ check, ok, message: `${q.name ?? q.sql} returned ${JSON.stringify(value)}${ok ? '' : `, expected ${describeExpectation(q.expect)}`}.` });
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      out.push({ check, ok: false, message: `${q.name ?? q.sql} failed: ${(e as Error).message}` });
    }
  }
  return out;
}

/** bt_index_check on every B-tree index of the tables, and verify_heapam on each table (PostgreSQL 14+). */
async function amcheck(c: pg.Client, tables: TableName[]): Promise<CheckResult> {
  const bad: string[] = [];
  try {
    await c.query('create extension if not exists amcheck');
    const heapam = (await c.query<{ n: number }>("select count(*)::int as n from pg_proc where proname = 'verify_heapam'")).rows[0]!.n > 0;
    let indexes = 0;
    for (const t of tables) {
      const rel = `${quoteIdent(t.schema ?? 'public')}.${quoteIdent(t.name)}`;
      const idx = await c.query<{ i: string }>(
        "select i.indexrelid::regclass::text as i from pg_index i join pg_class x on x.oid = i.indexrelid join pg_am a on a.oid = x.relam where a.amname = 'btree' and i.indrelid = $1::regclass and i.indisvalid",
        [rel],
      );
      for (const { i } of idx.rows) {
        indexes++;
        try {
          await c.query('select bt_index_check($1::regclass, true)', [i]);
        } catch (e) {
          bad.push(`index ${i}: ${(e as Error).message}`);
        }
      }
      if (heapam) {
        try {
          const r = await c.query<{ msg: string }>('select msg from verify_heapam($1::regclass) limit 1', [rel]);
          if (r.rows.length) bad.push(`table ${displayName(t)}: ${r.rows[0]!.msg}`);
        } catch (e) {
          bad.push(`table ${displayName(t)}: ${(e as Error).message}`);
        }
      }
    }
    return bad.length
      ? { check: 'amcheck', ok: false, message: `amcheck found corruption: ${names(bad)}.` }
      : { check: 'amcheck', ok: true, message: `${indexes} B-tree index(es)${heapam ? ` and ${tables.length} table(s)` : ''} checked, no corruption.` };
  } catch (e) {
    return { check: 'amcheck', ok: false, message: `amcheck could not run: ${(e as Error).message}` };
  }
}

export async function runSuite(conn: ConnParams, o: SuiteOptions): Promise<{ tables: CountedTable[]; checks: CheckResult[] }> {
  return withClient(
    conn,
    async (c) => {
      const checks: CheckResult[] = [];
      const present = await listTables(c);
      const presentNames = present.map((t) => displayName(t));
      const wanted = wantedTables(o.suite, o.production);
      if (wanted) {
        const missing = wanted.filter((n) => !presentNames.includes(n));
        checks.push(
          missing.length
            ? { check: 'tables', ok: false, message: `Missing ${missing.length} of ${wanted.length} table(s): ${names(missing)}.` }
            : { check: 'tables', ok: true, message: `All ${wanted.length} table(s) present.` },
        );
      }
      let counted: CountedTable[];
      try {
        counted = await countTables(c, present);
      } catch (e) {
        // A page that fails its checksum (or any read error) is the finding.
        checks.push({ check: 'read', ok: false, message: `Reading the tables failed: ${(e as Error).message}` });
        return { tables: [], checks };
      }
      const rows = wanted ? rowCheck(o, wanted, counted) : null;
      if (rows) checks.push(rows);
      checks.push(...(await queryChecks(c, o.suite)));
      if (o.suite.amcheck && !o.readOnly) checks.push(await amcheck(c, present));
      return { tables: counted, checks };
    },
    { statementTimeoutMs: o.readOnly ? 120_000 : 0, applicationName: 'undrop verify' },
  );
}

/** Production's tables and row counts, read-only; null when production cannot be reached. */
export async function productionTables(conn: ConnParams): Promise<CountedTable[] | null> {
  try {
    return await withClient(conn, async (c) => countTables(c, await listTables(c)), { statementTimeoutMs: 300_000, connectTimeoutMs: 10_000, applicationName: 'undrop verify' });
  } catch {
    return null;
  }
}
