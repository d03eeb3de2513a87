// Promote by merge, in one transaction under lock_timeout: rows of each
// recovered table whose primary key is missing from the live table are
// inserted; sequences and identity columns are moved past the highest value
// in either table. A recovered row whose key the live table already holds is
// "skipped" when the two rows are equal, a conflict when they differ (after a
// DROP + recreate the keys restart, so rows written since the incident reuse
// lost rows' keys). Conflicting pairs are kept in the side schema as
// <table>__conflicts; --on-conflict decides: fail (default: nothing live is
// changed, exit 1), keep-live (the live rows win, said so), rekey-live (the
// live rows get new keys, every recovered row goes in under its own). A live
// table without a primary key is refused. Running it again inserts nothing.
import type pg from 'pg';
import { failure, usageError } from '../errors.js';
import { connect } from '../postgres/connect.js';
import type { ConnParams } from '../postgres/conninfo.js';
import { displayName, quoteIdent, quoteLiteral } from '../postgres/identifiers.js';
import { copyColumns, tableOid } from './catalog.js';
import { lockLiveTables } from './live-lock.js';
import { addOtherUniqueSql, conflictCountSql, conflictsTableName, conflictsTableSql, keyColumnAliases, mergeConflictsError, missingKeysSql, type OnConflict, unresolvedUnder } from './merge-conflicts.js';
import { type RekeyResult, rekeyLive } from './merge-rekey.js';
import { commitOrFindOut } from './commit.js';
import { productionWriteError } from './pg-errors.js';
import type { PromoteTable } from './promote-replace.js';
import { silentTimeline, type Timeline } from './timeline.js';

export interface MergeRequest {
  production: ConnParams;
  tables: PromoteTable[];
  lockTimeoutMs?: number;
  /** statement_timeout of the merge session: bounds how long one statement holds the locks. */
  statementTimeoutMs?: number;
  /** What to do with recovered rows whose key a different live row holds (default fail). */
  onConflict?: OnConflict;
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
  /** Recovered rows the live table already holds, equal on every shared column. */
  skipped: number;
  /** Recovered rows whose key a live row holds with other content. */
  conflicts: number;
  /** Recovered rows left out because another unique constraint of the live table already held their value. */
  otherUnique: number;
  /** Side table with the conflicting pairs (key, recovered_row, live_row, kind, resolution, live_new_key); null when there were none. */
  conflictsTable: string | null;
  /** A few conflicting pairs, for the JSON document and the message. */
  sample: { key: unknown[]; recovered: Record<string, unknown>; live: Record<string, unknown> | null }[];
  /** What became of the conflicts: unresolved (merge refused), kept-live, rekeyed-live; null when none. */
  resolution: 'unresolved' | 'kept-live' | 'rekeyed-live' | null;
  rekey: RekeyResult | null;
  primaryKey: string[];
  /** Recovered columns the live table no longer has (their values are not merged). */
  columnsNotMerged: string[];
  sequences: SequenceMove[];
}

export interface MergeResult {
  tables: MergedTable[];
  onConflict: OnConflict;
  /** False when merge refused because of unresolved conflicts (nothing live changed). */
  committed: boolean;
  durationMs: number;
}

/** Merge refused (MERGE_CONFLICTS): carries the per-table result so callers can report counts and samples. */
export type MergeRefusal = ReturnType<typeof mergeConflictsError> & { merge: MergeResult };

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

export function isMergeRefusal(e: unknown): e is MergeRefusal {
  return (e as { code?: string })?.code === 'MERGE_CONFLICTS' && typeof (e as { merge?: unknown }).merge === 'object';
}

const SAMPLE = 5;

export async function promoteMerge(req: MergeRequest): Promise<MergeResult> {
  const tl = req.timeline ?? silentTimeline;
  const onConflict = req.onConflict ?? 'fail';
  const started = Date.now();
  const c = await connect(req.production, { applicationName: 'undrop promote (merge)', statementTimeoutMs: req.statementTimeoutMs });
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
      // SHARE ROW EXCLUSIVE: the application cannot write these tables until COMMIT, so what is classified stays true.
      await lockLiveTables(c, items.map((i) => i.t.original), 'SHARE ROW EXCLUSIVE', req.lockTimeoutMs ?? 5000);

      // 1. Classify every table first (set-based, in PostgreSQL); the conflicting pairs go to the side schema.
      const ordered = await parentFirst(c, items);
      const out: MergedTable[] = [];
      const columnsOf = new Map<number, string[]>();
      for (const i of ordered) {
        const { t } = i;
        const key = keys.get(i.oid)!;
        const liveCols = await copyColumns(c, i.oid);
        const recCols = await copyColumns(c, i.recOid);
        const recSet = new Set(recCols);
        const columns = liveCols.filter((x) => recSet.has(x));
        columnsOf.set(i.oid, columns);
        const ct = conflictsTableName(t.recoveredAs);
        const conflicts = await count(c, conflictCountSql(t.original, t.recoveredAs, columns, key));
        // A table from an earlier run on this side schema is replaced only when there is something new to keep.
        if (conflicts > 0) await freshConflictsTable(c, t, columns, key);
        const recoveredRows = await count(c, `SELECT count(*)::bigint AS n FROM ${qn(t.recoveredAs)}`);
        const present = await count(c, presentCountSql(t.original, t.recoveredAs, key));
        out.push({
          name: displayName(t.original),
          from: displayName(t.recoveredAs),
          recoveredRows,
          inserted: 0,
          skipped: present - conflicts,
          conflicts,
          otherUnique: 0,
          conflictsTable: displayName(ct),
          sample: [],
          resolution: null,
          rekey: null,
          primaryKey: key,
          columnsNotMerged: recCols.filter((x) => !liveCols.includes(x)),
          sequences: [],
        });
      }
      const byName = (i: (typeof ordered)[number]) => out[ordered.indexOf(i)]!;

      // 2. Default: any conflict stops here. The conflicts tables are committed (they are undrop's, in the side schema); nothing live was touched.
      if (unresolvedUnder(onConflict, { keyConflicts: sum(out, 'conflicts'), otherUnique: 0 }) > 0) {
        for (const i of ordered) await finishConflicts(c, i.t, byName(i), 'unresolved');
        await c.query('COMMIT');
        throw refusal(out, onConflict, started);
      }

      // 3. Resolve and insert, in a savepoint: rows another unique constraint keeps out are found only by trying.
      await c.query('SAVEPOINT undrop_merge');
      for (const i of ordered) {
        const m = byName(i);
        const key = keys.get(i.oid)!;
        if (m.conflicts > 0 && onConflict === 'rekey-live') {
          m.rekey = await rekeyLive(c, { ...i.t.original, oid: i.oid }, i.t.recoveredAs, key);
          tl.event('live-rows-rekeyed', { table: m.name, ...m.rekey });
        }
        m.inserted = await count(c, mergeInsertSql(i.t.original, i.t.recoveredAs, columnsOf.get(i.oid)!, key));
      }
      const leftOut = new Map<number, string[]>();
      for (const i of ordered) {
        const k = (await c.query<{ k: unknown }>(missingKeysSql(i.t.original, i.t.recoveredAs, keys.get(i.oid)!))).rows.map((r) => JSON.stringify(r.k));
        leftOut.set(i.oid, k);
        byName(i).otherUnique = k.length;
      }
      const unresolved = unresolvedUnder(onConflict, { keyConflicts: sum(out, 'conflicts'), otherUnique: sum(out, 'otherUnique') });
      if (unresolved > 0) await c.query('ROLLBACK TO SAVEPOINT undrop_merge');
      for (const i of ordered) {
        const m = byName(i);
        const keysOut = leftOut.get(i.oid)!;
        const res = unresolved > 0 ? 'unresolved' : 'kept-live';
        if (keysOut.length && m.conflicts === 0) await freshConflictsTable(c, i.t, columnsOf.get(i.oid)!, keys.get(i.oid)!);
        if (keysOut.length) await c.query(addOtherUniqueSql(i.t.recoveredAs, keys.get(i.oid)!, res), [keysOut]);
        if (m.conflicts + keysOut.length === 0) {
          await finishConflicts(c, i.t, m, 'unresolved');
          continue;
        }
        if (unresolved > 0) {
          m.inserted = 0;
          m.rekey = null;
          await c.query(`UPDATE ${qn(conflictsTableName(i.t.recoveredAs))} SET resolution = 'unresolved', live_new_key = NULL`);
        } else if (onConflict === 'keep-live') {
          await c.query(`UPDATE ${qn(conflictsTableName(i.t.recoveredAs))} SET resolution = 'kept-live'`);
        }
        await finishConflicts(c, i.t, m, unresolved > 0 ? 'unresolved' : onConflict === 'rekey-live' ? 'rekeyed-live' : 'kept-live');
      }
      if (unresolved > 0) {
        await c.query('COMMIT');
        throw refusal(out, onConflict, started);
      }
      for (const i of ordered) {
        const m = byName(i);
        const liveCols = await copyColumns(c, i.oid);
        m.sequences = await moveSequences(c, i.t.original, i.t.recoveredAs, liveCols, new Set(await copyColumns(c, i.recOid)));
        tl.event('table-merged', { ...m, sample: undefined });
      }
      await commitOrFindOut(c, req.production, 'promote (merge)', tl);
      return { tables: out, onConflict, committed: true, durationMs: Date.now() - started };
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      if (isMergeRefusal(e)) {
        tl.event('merge-refused', { onConflict, tables: e.merge.tables.map((t) => ({ name: t.name, conflicts: t.conflicts, otherUnique: t.otherUnique, conflictsTable: t.conflictsTable })) });
        throw e;
      }
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

async function count(c: pg.Client, sql: string): Promise<number> {
  return Number((await c.query<{ n: string }>(sql)).rows[0]!.n);
}

function sum(tables: MergedTable[], k: 'conflicts' | 'otherUnique'): number {
  return tables.reduce((a, t) => a + t[k], 0);
}

async function freshConflictsTable(c: pg.Client, t: PromoteTable, columns: string[], key: string[]): Promise<void> {
  await c.query(`DROP TABLE IF EXISTS ${qn(conflictsTableName(t.recoveredAs))}`); // ours, from an earlier run on this side schema
  await c.query(conflictsTableSql(t.original, t.recoveredAs, columns, key));
}

/** Read a sample of this run's conflicts table (none when this run met no collision: an earlier run's table is left as it was). */
async function finishConflicts(c: pg.Client, t: PromoteTable, m: MergedTable, resolution: NonNullable<MergedTable['resolution']>): Promise<void> {
  const ct = conflictsTableName(t.recoveredAs);
  if (m.conflicts + m.otherUnique === 0) {
    m.conflictsTable = null;
    m.resolution = null;
    return;
  }
  const aliases = keyColumnAliases(m.primaryKey);
  const r = await c.query<{ k: unknown[]; recovered_row: Record<string, unknown>; live_row: Record<string, unknown> | null }>(
    `SELECT jsonb_build_array(${aliases.map((a) => quoteIdent(a)).join(', ')}) AS k, recovered_row, live_row FROM ${qn(ct)} ORDER BY kind, ${aliases.map((a) => quoteIdent(a)).join(', ')} LIMIT ${SAMPLE}`,
  );
  m.sample = r.rows.map((x) => ({ key: x.k, recovered: x.recovered_row, live: x.live_row }));
  m.resolution = resolution;
  await c.query(`COMMENT ON TABLE ${qn(ct)} IS ${quoteLiteral(`undrop merge of ${m.name}: recovered rows whose key a live row held with other content (kind = key) or that another unique constraint kept out (kind = other-unique); resolution: ${resolution}`)}`);
}

function refusal(tables: MergedTable[], onConflict: OnConflict, started: number): MergeRefusal {
  const merge: MergeResult = { tables, onConflict, committed: false, durationMs: Date.now() - started };
  const short = (v: unknown) => {
    const j = JSON.stringify(v);
    return j.length > 80 ? `${j.slice(0, 77)}…` : j;
  };
  const details = tables.flatMap((t) => t.sample.slice(0, 3).map((s) => `  ${t.name} key ${JSON.stringify(s.key)}: recovered ${short(s.recovered)}  live ${short(s.live)}`));
  const e = mergeConflictsError(
    tables.map((t) => ({ name: t.name, conflicts: t.conflicts, otherUnique: t.otherUnique, conflictsTable: t.conflictsTable ?? '' })),
    onConflict,
    details,
  ) as MergeRefusal;
  e.merge = merge;
  return e;
}

export interface MergePreviewTable {
  name: string;
  recoveredRows: number;
  /** Recovered rows whose key is free in the live table. */
  missing: number;
  skipped: number;
  conflicts: number;
  /** Why merge cannot run on this table (no primary key, …); the counts are then 0. */
  refused?: string;
  /** Enabled user triggers of the live table: they fire for every row merge inserts (or rekey-live updates). */
  triggers?: string[];
}

/** What merge would meet, read-only and without locks: shown before the promote question. */
export async function mergePreview(production: ConnParams, tables: PromoteTable[]): Promise<MergePreviewTable[]> {
  const c = await connect(production, { applicationName: 'undrop promote (merge preview)', statementTimeoutMs: 600_000 });
  try {
    await c.query('BEGIN READ ONLY');
    const out: MergePreviewTable[] = [];
    for (const t of tables) {
      const name = displayName(t.original);
      const oid = await tableOid(c, t.original.schema, t.original.name);
      const recOid = await tableOid(c, t.recoveredAs.schema, t.recoveredAs.name);
      const empty = { name, recoveredRows: 0, missing: 0, skipped: 0, conflicts: 0 };
      if (oid === undefined || recOid === undefined) {
        out.push({ ...empty, refused: oid === undefined ? 'no live table' : 'no recovered table' });
        continue;
      }
      const key = await primaryKey(c, oid);
      const recCols = await copyColumns(c, recOid);
      if (key.length === 0 || key.some((k) => !recCols.includes(k))) {
        out.push({ ...empty, refused: key.length === 0 ? 'no primary key' : 'key columns missing from the recovered table' });
        continue;
      }
      const shared = (await copyColumns(c, oid)).filter((x) => recCols.includes(x));
      const recoveredRows = await count(c, `SELECT count(*)::bigint AS n FROM ${qn(t.recoveredAs)}`);
      const present = await count(c, presentCountSql(t.original, t.recoveredAs, key));
      const conflicts = await count(c, conflictCountSql(t.original, t.recoveredAs, shared, key));
      const triggers = (await c.query<{ tgname: string }>(`SELECT tgname FROM pg_trigger WHERE tgrelid = $1 AND NOT tgisinternal AND tgenabled <> 'D' ORDER BY tgname`, [oid])).rows.map((r) => r.tgname);
      out.push({ name, recoveredRows, missing: recoveredRows - present, skipped: present - conflicts, conflicts, ...(triggers.length ? { triggers } : {}) });
    }
    await c.query('COMMIT');
    return out;
  } finally {
    await c.end().catch(() => {});
  }
}
