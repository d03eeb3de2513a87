// Promote by merge, in one transaction under lock_timeout: rows of each
// recovered table whose primary key is missing from the live table are
// inserted; rows written after the incident stay as they are; sequences and
// identity columns are moved past the highest value in either table. A live
// table without a primary key is refused (there is no way to tell which rows
// are missing). Running it again inserts nothing.
import type pg from 'pg';
import { failure, usageError } from '../errors.js';
import { connect } from '../postgres/connect.js';
import type { ConnParams } from '../postgres/conninfo.js';
import { displayName, quoteIdent, quoteLiteral } from '../postgres/identifiers.js';
import { copyColumns, tableOid } from './catalog.js';
import { lockLiveTables } from './live-lock.js';
import { productionWriteError } from './pg-errors.js';
import type { PromoteTable } from './promote-replace.js';
import { silentTimeline, type Timeline } from './timeline.js';

export interface MergeRequest {
  production: ConnParams;
  tables: PromoteTable[];
  lockTimeoutMs?: number;
  timeline?: Timeline;
}

export interface SequenceMove {
  sequence: string;
  column: string;
  /** The sequence's last value before and after (unchanged when already past the rows). */
  from: string;
  to: string;
}

export interface MergedTable {
  name: string;
  from: string;
  recoveredRows: number;
  inserted: number;
  /** Rows whose primary key the live table already had (post-incident rows win). */
  skipped: number;
  /** Rows left out because another unique constraint of the live table already held their value. */
  conflicts: number;
  primaryKey: string[];
  /** Recovered columns the live table no longer has (their values are not merged). */
  columnsNotMerged: string[];
  sequences: SequenceMove[];
}

export interface MergeResult {
  tables: MergedTable[];
  durationMs: number;
}

const q = quoteIdent;
const qn = (t: { schema: string; name: string }) => `${q(t.schema)}.${q(t.name)}`;

/** INSERT … SELECT of the rows whose key is missing. Pure. */
export function mergeInsertSql(live: { schema: string; name: string }, recovered: { schema: string; name: string }, columns: string[], key: string[]): string {
  const cols = columns.map(q).join(', ');
  const match = key.map((k) => `l.${q(k)} = r.${q(k)}`).join(' AND ');
  return [
    `WITH ins AS (`,
    `  INSERT INTO ${qn(live)} AS l (${cols}) OVERRIDING SYSTEM VALUE`,
    `  SELECT ${columns.map((c) => `r.${q(c)}`).join(', ')} FROM ${qn(recovered)} AS r`,
    `  WHERE NOT EXISTS (SELECT 1 FROM ${qn(live)} AS l WHERE ${match})`,
    `  ON CONFLICT DO NOTHING`,
    `  RETURNING 1`,
    `) SELECT count(*)::bigint AS n FROM ins`,
  ].join('\n');
}

/** Count of recovered rows whose key the live table already has. Pure. */
export function presentCountSql(live: { schema: string; name: string }, recovered: { schema: string; name: string }, key: string[]): string {
  const match = key.map((k) => `l.${q(k)} = r.${q(k)}`).join(' AND ');
  return `SELECT count(*)::bigint AS n FROM ${qn(recovered)} AS r WHERE EXISTS (SELECT 1 FROM ${qn(live)} AS l WHERE ${match})`;
}

async function primaryKey(c: pg.Client, oid: number): Promise<string[]> {
  const r = await c.query<{ attname: string }>(
    `SELECT a.attname FROM pg_constraint con, unnest(con.conkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attnum = k.n
      WHERE con.conrelid = $1 AND con.contype = 'p' AND a.attrelid = $1 ORDER BY k.o`,
    [oid],
  );
  return r.rows.map((x) => x.attname);
}

/** Live tables that reference others in the set go after them (parents first). */
async function parentFirst<I extends { oid: number }>(c: pg.Client, items: I[]): Promise<I[]> {
  const r = await c.query<{ child: number; parent: number }>(
    `SELECT conrelid::int AS child, confrelid::int AS parent FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY($1::oid[]) AND confrelid = ANY($1::oid[]) AND conrelid <> confrelid`,
    [items.map((i) => i.oid)],
  );
  const out: typeof items = [];
  const done = new Set<number>();
  const visit = (i: (typeof items)[number], path: Set<number>) => {
    if (done.has(i.oid) || path.has(i.oid)) return;
    path.add(i.oid);
    for (const e of r.rows.filter((x) => x.child === i.oid)) {
      const p = items.find((x) => x.oid === e.parent);
      if (p) visit(p, path);
    }
    done.add(i.oid);
    out.push(i);
  };
  for (const i of items) visit(i, new Set());
  return out;
}

async function moveSequences(c: pg.Client, live: { schema: string; name: string }, recovered: { schema: string; name: string }, liveCols: string[], recCols: Set<string>): Promise<SequenceMove[]> {
  const out: SequenceMove[] = [];
  for (const col of liveCols) {
    const s = await c.query<{ seq: string | null }>(`SELECT pg_get_serial_sequence($1, $2) AS seq`, [qn(live), col]);
    const seq = s.rows[0]?.seq;
    if (!seq) continue;
    const maxExpr = recCols.has(col) ? `GREATEST((SELECT max(${q(col)}) FROM ${qn(live)}), (SELECT max(${q(col)}) FROM ${qn(recovered)}))` : `(SELECT max(${q(col)}) FROM ${qn(live)})`;
    const r = await c.query<{ last: string; called: boolean; top: string | null }>(`SELECT last_value::text AS last, is_called AS called, (${maxExpr})::text AS top FROM ${seq}`);
    const { last, called, top } = r.rows[0]!;
    const current = called ? BigInt(last) : BigInt(last) - 1n;
    let to = last;
    if (top !== null && BigInt(top) > current) {
      await c.query(`SELECT setval(${quoteLiteral(seq)}::regclass, $1::bigint, true)`, [top]);
      to = top;
    }
    out.push({ sequence: seq, column: col, from: last, to });
  }
  return out;
}

export async function promoteMerge(req: MergeRequest): Promise<MergeResult> {
  const tl = req.timeline ?? silentTimeline;
  const started = Date.now();
  const c = await connect(req.production, { applicationName: 'undrop promote (merge)' });
  try {
    await c.query('BEGIN');
    try {
      const items: { t: PromoteTable; oid: number; recOid: number }[] = [];
      for (const t of req.tables) {
        const oid = await tableOid(c, t.original.schema, t.original.name);
        if (oid === undefined) {
          throw usageError('LIVE_TABLE_MISSING', `${displayName(t.original)} does not exist in production, so there is nothing to merge into.`, 'Use --mode replace to move the recovered table in, or create the table first.');
        }
        const recOid = await tableOid(c, t.recoveredAs.schema, t.recoveredAs.name);
        if (recOid === undefined) {
          throw usageError('RECOVERED_TABLE_MISSING', `${displayName(t.recoveredAs)} does not exist in production; nothing to merge.`, 'Copy the tables back first (undrop recover --mode side-schema), then merge from that schema.');
        }
        items.push({ t, oid, recOid });
      }
      // Refuse before locking or writing anything.
      const keys = new Map<number, string[]>();
      for (const i of items) {
        const key = await primaryKey(c, i.oid);
        if (key.length === 0) {
          throw usageError('MERGE_NEEDS_PRIMARY_KEY', `${displayName(i.t.original)} has no primary key, so undrop cannot tell which recovered rows are missing from it.`, `Use --mode replace, or keep the side schema and merge by hand with SQL (the recovered rows are in ${displayName(i.t.recoveredAs)}).`);
        }
        const recCols = await copyColumns(c, i.recOid);
        const missing = key.filter((k) => !recCols.includes(k));
        if (missing.length) {
          throw usageError('MERGE_KEY_MISSING', `The recovered ${displayName(i.t.recoveredAs)} lacks the live table's primary key column(s) ${missing.join(', ')}.`, 'The table changed shape since the recovery point: merge by hand with SQL, or use --mode replace.');
        }
        keys.set(i.oid, key);
      }
      await lockLiveTables(c, items.map((i) => i.t.original), 'SHARE ROW EXCLUSIVE', req.lockTimeoutMs ?? 5000);

      const out: MergedTable[] = [];
      for (const i of await parentFirst(c, items)) {
        const { t } = i;
        const key = keys.get(i.oid)!;
        const liveCols = await copyColumns(c, i.oid);
        const recCols = await copyColumns(c, i.recOid);
        const recSet = new Set(recCols);
        const columns = liveCols.filter((x) => recSet.has(x));
        const recoveredRows = Number((await c.query<{ n: string }>(`SELECT count(*)::bigint AS n FROM ${qn(t.recoveredAs)}`)).rows[0]!.n);
        const skipped = Number((await c.query<{ n: string }>(presentCountSql(t.original, t.recoveredAs, key))).rows[0]!.n);
        const inserted = Number((await c.query<{ n: string }>(mergeInsertSql(t.original, t.recoveredAs, columns, key))).rows[0]!.n);
        const sequences = await moveSequences(c, t.original, t.recoveredAs, liveCols, recSet);
        const m: MergedTable = {
          name: displayName(t.original),
          from: displayName(t.recoveredAs),
          recoveredRows,
          inserted,
          skipped,
          conflicts: recoveredRows - inserted - skipped,
          primaryKey: key,
          columnsNotMerged: recCols.filter((x) => !liveCols.includes(x)),
          sequences,
        };
        tl.event('table-merged', { ...m });
        out.push(m);
      }
      await c.query('COMMIT');
      return { tables: out, durationMs: Date.now() - started };
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      if ((e as { code?: string }).code === '23503') {
        throw failure('MERGE_FOREIGN_KEY', `Merging would break a foreign key of a live table: ${(e as Error).message}. Nothing was changed.`, {
          hint: 'Recover and merge the referenced table in the same run (list both in --tables), or keep the side schema and merge by hand.',
          details: [(e as { detail?: string }).detail ?? ''].filter(Boolean),
          cause: e,
        });
      }
      throw productionWriteError(e, 'promote (merge)');
    }
  } finally {
    await c.end().catch(() => {});
  }
}
