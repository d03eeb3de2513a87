// Copy back: the wanted tables go into a new side schema in production, all
// or nothing, tables in parallel (copy-staged.ts): a staging schema gets the
// pre-data DDL (tables, sequences, defaults, comments) and sequence values;
// each table is loaded on its own connection (binary COPY, streamed, its
// checksum, its keys and indexes); then what spans tables (FKs between
// recovered tables); then one ALTER SCHEMA … RENAME publishes it. Any
// failure, including a lost connection, drops the staging schema, so no side
// schema is left behind. An existing schema is never reused.
//
// The DDL is pg_dump's: in the materialized (disposable) instance the tables
// are first moved into a schema of the staging schema's name (ALTER TABLE …
// SET SCHEMA carries owned/identity sequences, indexes, constraints and FKs
// along).
//
// Verification rides along (checksum.ts): the source side is checksummed on
// its own connections, one per table, from the end of the DDL step on, while
// the rows stream (the materialized instance is otherwise idle), and each table's production side
// in its loading transaction right after its load, while its pages are still
// in memory. verify.ts compares the two.
import { availableParallelism } from 'node:os';
import type pg from 'pg';
import { failure, usageError } from '../errors.js';
import { withClient } from '../postgres/connect.js';
import type { PgBinaries } from '../postgres/binaries.js';
import { connect } from '../postgres/connect.js';
import { type ConnParams, describe } from '../postgres/conninfo.js';
import { displayName, quoteIdent, type TableName } from '../postgres/identifiers.js';
import { copyColumns, type ForeignKeyInfo, foreignKeysLeavingSet, type ResolvedTable, resolveTables, schemaExists, type SequenceState, sequencesIn } from './catalog.js';
import { type ChecksumAlgorithm, hashFingerprint, type TableChecksum, tableAlgorithms, tableChecksum } from './checksum.js';
import { stagingSchemaName, unionMs, writeStaged } from './copy-staged.js';
import { type SchemaDdl, schemaDdl } from './ddl.js';
import { objectsOf, schemaDdlInPlace, sequenceStates } from './ddl-in-place.js';
import { chooseToastCompression, type ToastCompressionChoice, toastCompressionOffer } from './toast-compression.js';
import { assertProductionSpace, copyBackSizes, needOn, productionDisk, productionDiskFullError } from './production-disk.js';
import { sideSchemaName } from './side-schema.js';
import { silentTimeline, type Timeline } from './timeline.js';
import { formatBytes } from '../util/time.js';
import { corruptPage } from '../sources/materialize/preflight.js';

export interface CopyBackSource {
  /** Connection to the materialized instance (database included, or given below). */
  conn: ConnParams;
  database: string;
  /**
   * Where the rows are read instead (a paused replica, read-only, the tables
   * under their own names); the instance then holds their schema only.
   */
  rows?: ConnParams;
  /**
   * `conn` itself is read-only (a paused replica read in place, no
   * temporary instance): the DDL is dumped from the tables where they are
   * (ddl-in-place.ts) and the rows read from them; nothing is written there.
   */
  readOnly?: boolean;
}

export interface CopyBackRequest {
  bin: PgBinaries;
  /** The materialized source (Materialized.conn + .database fit). Must be writable: a temp instance. */
  source: CopyBackSource;
  production: ConnParams;
  tables: TableName[];
  /** Side schema name; default undrop_YYYYMMDD_HHMMSS (UTC). */
  schema?: string;
  workDir: string;
  timeline?: Timeline;
  now?: Date;
  /** maintenance_work_mem for each table's index builds (default 256MB). */
  maintenanceWorkMem?: string;
  /**
   * Production connections open at once (--jobs): the tables loaded at once,
   * each on its own connection (default: the tables, up to 4). The control
   * connection is closed before the loads start, so this is the maximum.
   */
  parallel?: number;
  /** --toast-compression: lz4 (default: where production offers it) or the server's own default. */
  toastCompression?: ToastCompressionChoice;
  /** Progress lines: bytes and rows per table against the source's estimate, index builds by name. */
  onProgress?: (message: string) => void;
  /** Awaited right before the side schema is published; a rejection drops the staging schema and is thrown as is. */
  beforePublish?: () => Promise<void>;
  /**
   * Handed the source side's row counts as soon as its checksums start (each reads every row of the static
   * source: exact counts). Recover takes the materialized tables' counts from here instead of counting first.
   */
  onSourceRows?: (rows: Promise<{ name: string; rows: number }[]>) => void;
  /** Called just before the tables are moved into the staging schema in the source (a temporary instance). */
  onSourceMoved?: (staging: string, tables: readonly { schema: string; name: string }[]) => void;
}

export interface CopiedTable {
  /** schema.table as it was (display form). */
  name: string;
  original: { schema: string; name: string };
  recoveredAs: { schema: string; name: string };
  /** schema.table in production (display form). */
  recoveredAsName: string;
  rows: number;
  bytes: number;
  durationMs: number;
}

export interface CopyBackResult {
  schema: string;
  tables: CopiedTable[];
  sequences: SequenceState[];
  /** FKs from recovered tables to tables that were not recovered: not created. */
  foreignKeysLeftOut: ForeignKeyInfo[];
  /** Where the tables now are in the materialized instance (the staging schema there); null: read in place under their own names. */
  sourceSchema: string | null;
  production: { lsnBefore: string | null; lsnAfter: string | null };
  timings: { ddlMs: number; preDataMs: number;
    /** The parallel loads: rows, production checksums, each table's keys and indexes. */
    dataMs: number;
    /** What spans tables (FKs between them), after the loads. */
    postDataMs: number;
    /** The rename that publishes the side schema. */
    publishMs: number;
    totalMs: number;
    /** Production side, in each table's loading transaction: wall time, overlaps counted once. */
    checksumMs: number;
    /** Source side, on its own connections while the copy ran. */
    sourceChecksumMs: number;
    /** What the source side still took after the commit (0 when it finished during the copy). */
    sourceWaitMs: number;
  };
  /** Checksums taken during the copy, per table in `tables` order (each with its algorithm): what verify compares. */
  checksums: { algorithms: ChecksumAlgorithm[]; source: TableChecksum[]; copy: TableChecksum[] };
}

const sourceLabel = 'the materialized source';
/** A damaged page met reading a table of the source (its COPY or its checksum): SOURCE_DATA_CORRUPT, else undefined. */
const sourceDamaged = (e: unknown, t: TableName) => corruptPage(e, 'The materialized source', displayName(t));

async function currentLsn(c: pg.Client): Promise<string | null> {
  try {
    const r = await c.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    return r.rows[0]?.lsn ?? null;
  } catch {
    return null;
  }
}

/** Move the tables into the side schema inside the materialized instance (one transaction). */
async function moveInSource(src: pg.Client, tables: ResolvedTable[], schema: string): Promise<void> {
  await src.query('BEGIN');
  try {
    await src.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
    for (const t of tables) await src.query(`ALTER TABLE ${quoteIdent(t.schema)}.${quoteIdent(t.name)} SET SCHEMA ${quoteIdent(schema)}`);
    await src.query('COMMIT');
  } catch (e) {
    await src.query('ROLLBACK').catch(() => {});
    throw failure('SOURCE_PREPARE_FAILED', `Could not move the tables into schema ${schema} in ${sourceLabel}: ${(e as Error).message}.`, {
      hint: 'The materialized instance must be writable (a temporary instance, not a paused replica).',
      cause: e,
    });
  }
}

/** Put the tables back where they were in the materialized instance (after a failed copy back). */
export async function restoreInSource(src: pg.Client, tables: ResolvedTable[], schema: string): Promise<void> {
  await src.query('BEGIN');
  try {
    for (const t of tables) await src.query(`ALTER TABLE ${quoteIdent(schema)}.${quoteIdent(t.name)} SET SCHEMA ${quoteIdent(t.schema)}`);
    await src.query(`DROP SCHEMA ${quoteIdent(schema)}`);
    await src.query('COMMIT');
  } catch {
    await src.query('ROLLBACK').catch(() => {});
  }
}

async function assertWritable(src: pg.Client): Promise<void> {
  const r = await src.query<{ rec: boolean; ro: string }>(`SELECT pg_is_in_recovery() AS rec, current_setting('transaction_read_only') AS ro`);
  const row = r.rows[0]!;
  if (row.rec || row.ro === 'on') {
    throw failure('SOURCE_READ_ONLY', `The materialized source is read-only (${row.rec ? 'in recovery' : 'read-only transactions'}); copy back prepares the tables there first.`, {
      hint: 'Materialize into a temporary instance (for a paused replica: pg_dump the tables into one), then copy back from it.',
    });
  }
}

export async function copyBack(req: CopyBackRequest): Promise<CopyBackResult> {
  const tl = req.timeline ?? silentTimeline;
  const started = Date.now();
  const schema = sideSchemaName(req.schema, req.now);
  // The tables are built under this name (source and production) until one rename publishes them.
  const staging = stagingSchemaName();
  const sourceConn: ConnParams = { ...req.source.conn, database: req.source.database };
  const readOnly = !!req.source.readOnly;
  // a read-only source is never waited on long for a lock (a paused replica: its startup process may hold some)
  const src = await connect(sourceConn, { applicationName: 'undrop copy back (source)', ...(readOnly ? { lockTimeoutMs: 10_000, statementTimeoutMs: 60_000 } : {}) });
  let prod: pg.Client | undefined;
  let moved: ResolvedTable[] | undefined;
  let committed = false;
  let sourcePending: Promise<unknown> | undefined;
  let ddlInFlight: Promise<unknown> | undefined;
  try {
    const tables = await resolveTables(src, req.tables, sourceLabel);
    if (!readOnly) await assertWritable(src);
    if (!readOnly && (await schemaExists(src, staging))) {
      throw usageError('SIDE_SCHEMA_EXISTS', `Schema ${staging} already exists in ${sourceLabel}.`, 'Run the same command again (the staging name is drawn at random).');
    }
    prod = await connect(req.production, { applicationName: 'undrop copy back' });
    if (await schemaExists(prod, schema)) {
      throw usageError('SIDE_SCHEMA_EXISTS', `Schema ${schema} already exists in production (${describe(req.production)}); it is never overwritten.`, 'Choose another name with --schema, or drop the old side schema once you no longer need it.');
    }
    const leftOut = await foreignKeysLeavingSet(src, tables);
    for (const fk of leftOut) {
      tl.event('foreign-key-left-out', { table: displayName(fk.table), constraint: fk.name, references: displayName(fk.references), definition: fk.definition });
    }

    const ddlStarted = Date.now();
    const excludeConstraintOids = leftOut.map((f) => f.oid);
    // pg_dump (its own connection) runs while the catalog reads, the checksum choice and the disk check below go on:
    // the DDL is first needed when the staging schema is created.
    let ddlPending: Promise<SchemaDdl>;
    let sequences: SequenceState[];
    if (readOnly) {
      // Nothing is moved on a read-only source: its tables' own DDL, renamed to the staging schema.
      const owned = await objectsOf(src, tables);
      ddlPending = tl.step('take DDL (pg_dump --schema-only -t, read in place)', () => schemaDdlInPlace(req.bin, sourceConn, tables, [...owned.sequences, ...owned.indexes], staging, { workDir: req.workDir, excludeConstraintOids }));
      ddlInFlight = ddlPending.catch(() => {}); // awaited below, or before cleanup on a failure
      sequences = await sequenceStates(src, owned.sequences);
    } else {
      req.onSourceMoved?.(staging, tables.map((t) => ({ schema: t.schema, name: t.name })));
      await tl.step('prepare source', () => moveInSource(src, tables, staging), { schema: staging });
      moved = tables;
      ddlPending = tl.step('take DDL (pg_dump --schema-only)', () => schemaDdl(req.bin, sourceConn, staging, { workDir: req.workDir, excludeConstraintOids }));
      ddlInFlight = ddlPending.catch(() => {});
      sequences = await sequencesIn(src, staging);
    }
    // Per table, the cheapest yardstick both servers share (checksum.ts): colhash64 where the column types
    // allow it, else hash128 (same encoding and byte order), else md5. Types are read where the rows are.
    // Rows read from elsewhere (a paused replica): its tables under their own names, never waiting long for a lock.
    const rowsConn = req.source.rows ?? (readOnly ? sourceConn : undefined);
    const rowsAt = (t: ResolvedTable) => (rowsConn ? { schema: t.schema, name: t.name } : { schema: staging, name: t.name });
    const rowsSession = { statementTimeoutMs: 0, ...(rowsConn ? { lockTimeoutMs: 10_000 } : {}) };
    // Independent reads, at once: the columns (source), the yardstick and the sizes (where the rows are, one
    // connection), production's side of the yardstick and its disk (the control connection).
    const control = prod;
    const fpProd = hashFingerprint(control);
    const rowsSide = async (c: pg.Client, exact: boolean) => {
      const [fp, fpP] = await Promise.all([hashFingerprint(c), fpProd]);
      const chosen = await tableAlgorithms(c, fp, fpP, tables.map(rowsAt));
      // Production's disk is checked against these sizes below: refuse before writing rather than fill it.
      return { chosen, sizes: await copyBackSizes(c, tables.map(rowsAt), { exact }) };
    };
    const [columnList, { chosen, sizes }, disk, toastOffer] = await Promise.all([
      (async () => {
        const out: string[][] = [];
        for (const t of tables) out.push(await copyColumns(src, t.oid));
        return out;
      })(),
      rowsConn ? withClient(rowsConn, (c) => rowsSide(c, false), { lockTimeoutMs: 10_000 }) : rowsSide(src, true),
      // a full pg_wal stops PostgreSQL
      fpProd.then(() => productionDisk(control, req.production)),
      toastCompressionOffer(control),
    ]);
    const toastCompression = chooseToastCompression(req.toastCompression ?? 'lz4', toastOffer);
    tl.event('toast-compression', { method: toastCompression ?? toastOffer.serverDefault, serverDefault: toastOffer.serverDefault });
    const columns = new Map(tables.map((t, i) => [t.oid, columnList[i]!]));
    const algorithms = new Map(tables.map((t, i) => [t.oid, chosen.algorithms[i]!]));
    tl.event('checksum-algorithm', { tables: tables.map((t, i) => ({ table: displayName(t), algorithm: chosen.algorithms[i], ...(chosen.reasons[i] ? { fallback: chosen.reasons[i] } : {}) })) });

    // Production's disk, when this host can see it.
    const need = needOn(disk, sizes);
    tl.event('production-disk', { need, ...(disk ? { path: disk.path, free: disk.free, walSameFs: disk.walSameFs } : { visible: false }) });
    assertProductionSpace(disk, need);
    const ddl = await ddlPending;
    const ddlMs = Date.now() - ddlStarted;

    // The source checksums start once the DDL is taken, not alongside pg_dump: on a small machine their reads took
    // pg_dump's CPU and the DDL is on the critical path (the first COPY waits for it), while the checksums are
    // first needed at publish, after every load. On 2 cores, 3 runs each: the DDL step 0.3-0.53 s instead of
    // 1.4-1.76 s, publish never waited for them.
    const sourceStarted = Date.now();
    let sourceChecksumMs = 0;
    const perTable = tables.map((t) =>
      withClient(
        rowsConn ?? sourceConn,
        async (c) => {
          const t0 = Date.now();
          const sum = await tableChecksum(c, rowsAt(t), { algorithm: algorithms.get(t.oid) }).catch((e: unknown) => {
            throw sourceDamaged(e, t) ?? e;
          });
          tl.event('source-checksum', { table: displayName(t), durationMs: Date.now() - t0 });
          return sum;
        },
        { applicationName: 'undrop verify (source)', ...rowsSession },
      ),
    );
    const sourceSums = Promise.all(perTable).finally(() => {
      sourceChecksumMs = Date.now() - sourceStarted;
    });
    sourceSums.catch(() => {}); // awaited below; a failure before that must not go unhandled
    // every checksum ended: one that failed does not stop the others, which still read the tables
    sourcePending = Promise.allSettled(perTable);
    req.onSourceRows?.(sourceSums.then((sums) => tables.map((t, i) => ({ name: displayName(t), rows: sums[i]!.rows }))));

    const lsnBefore = await currentLsn(prod);
    tl.lsn('production before copy back', lsnBefore, 'production');
    // The control connection creates the staging schema and tables (copy-staged's step 1) and is closed after it:
    // `parallel` is every connection open on production during the loads. Handed over, not closed and opened again.
    prod = undefined;
    const meter = req.onProgress ? async (t: ResolvedTable) => copyMeter(displayName(t), rowsConn ? await withClient(rowsConn, (c) => sizeEstimate(c, rowsAt(t))) : await sizeEstimate(src, rowsAt(t)), req.onProgress!) : undefined;
    const w = await writeStaged(
      { schema, staging, tables, ddl, sequences, columns, maintenanceWorkMem: req.maintenanceWorkMem ?? '256MB', toastCompression, parallel: req.parallel ?? defaultParallel(tables.length), productionCores: disk ? availableParallelism() : undefined, algorithm: (t) => algorithms.get(t.oid)!, production: req.production, source: rowsConn ?? sourceConn, sourceSession: rowsSession, rowsAt, onProgress: req.onProgress, meter, diskFull: (e, phase) => productionDiskFullError(e, { need, disk, phase, details: pgErrorLines(e) }), sourceReadError: sourceDamaged, beforePublish: req.beforePublish, control },
      tl,
    );
    committed = true;
    const copied: CopiedTable[] = w.tables.map((x) => {
      const to = { schema, name: x.table.name };
      return { name: displayName(x.table), original: { schema: x.table.schema, name: x.table.name }, recoveredAs: to, recoveredAsName: displayName(to), rows: x.rows, bytes: x.bytes, durationMs: x.durationMs };
    });
    // wall time during which production checksums ran (the tables load in parallel: overlaps counted once)
    const checksumMs = unionMs(w.tables.map((x) => x.checksumSpan));
    const checksumSumMs = w.tables.reduce((n, x) => n + x.checksumSpan[1] - x.checksumSpan[0], 0);
    const lsnAfter = await withClient(req.production, currentLsn, { applicationName: 'undrop copy back' }).catch(() => null);
    tl.lsn('production after copy back (commit)', lsnAfter, 'production');
    const waitStarted = Date.now();
    const sourceChecksums = await sourceSums.catch((e: unknown) => {
      throw failure('VERIFY_FAILED', `Could not checksum the tables in ${sourceLabel}: ${(e as Error).message}.`, {
        hint: `The side schema ${schema} is in production but unverified: do not promote it; run recover again.`,
        cause: e,
      });
    });
    tl.event('checksums-taken', { algorithms: chosen.algorithms, productionMs: checksumMs, productionSumMs: checksumSumMs, sourceMs: sourceChecksumMs, sourceWaitMs: Date.now() - waitStarted });
    return {
      schema,
      tables: copied,
      sequences,
      foreignKeysLeftOut: leftOut,
      sourceSchema: readOnly ? null : staging,
      production: { lsnBefore, lsnAfter },
      timings: { ddlMs, preDataMs: w.preDataMs, dataMs: w.loadMs, postDataMs: w.postDataMs, publishMs: w.publishMs, totalMs: Date.now() - started, checksumMs, sourceChecksumMs, sourceWaitMs: Date.now() - waitStarted },
      checksums: { algorithms: chosen.algorithms, source: sourceChecksums, copy: w.tables.map((x) => x.checksum) },
    };
  } finally {
    // pg_dump may still run after an early failure: let it end (it reads the tables moving back below)
    await ddlInFlight;
    if (!committed && moved) {
      // Let the source checksums finish (they hold the tables) before moving the tables back.
      await sourcePending?.catch(() => {});
      // The source connection may be mid-COPY after a production failure: use a fresh one.
      await src.end().catch(() => {});
      const again = await connect(sourceConn, { applicationName: 'undrop copy back (source)' }).catch(() => undefined);
      if (again) {
        await restoreInSource(again, moved, staging);
        await again.end().catch(() => {});
      }
    } else {
      await src.end().catch(() => {});
    }
    await prod?.end().catch(() => {});
  }
}

/** Put the recovered tables back in their original schemas in the materialized instance (after verify, or to copy again). */
export async function moveBackInSource(source: CopyBackSource, result: Pick<CopyBackResult, 'tables' | 'sourceSchema'>): Promise<void> {
  const schema = result.sourceSchema;
  if (schema === null) return; // read in place: nothing was moved
  const src = await connect({ ...source.conn, database: source.database }, { applicationName: 'undrop copy back (source)' });
  try {
    const tables = result.tables.map((t) => ({ schema: t.original.schema, name: t.original.name, oid: 0 }));
    await restoreInSource(src, tables, schema);
  } finally {
    await src.end().catch(() => {});
  }
}

/** Tables loaded at once by default: all of them, up to 4 (each is one backend on production and one on the source). */
function defaultParallel(tables: number): number {
  return Math.max(1, Math.min(tables, 4));
}

/** The source's own estimate of a table where its rows are read (the staging schema, or the paused replica's
 * own table): planner rows and bytes on disk, what progress counts against. */
async function sizeEstimate(src: pg.Client, t: { schema: string; name: string }): Promise<{ rows: number; bytes: number }> {
  const r = await src.query<{ rows: string; bytes: string }>('SELECT greatest(reltuples, 0)::int8::text AS rows, pg_relation_size(oid)::text AS bytes FROM pg_class WHERE oid = to_regclass($1)', [`${quoteIdent(t.schema)}.${quoteIdent(t.name)}`]);
  return { rows: Number(r.rows[0]?.rows ?? 0), bytes: Number(r.rows[0]?.bytes ?? 0) };
}

/** onBytes for copyTable: a progress line with bytes, estimated rows and rate (the caller throttles display). */
export function copyMeter(table: string, est: { rows: number; bytes: number }, report: (m: string) => void, now: () => number = Date.now, everyMs = 100): (n: number) => void {
  const t0 = now();
  let bytes = 0;
  let last = -Infinity;
  return (n) => {
    bytes += n;
    // called per chunk (thousands per table): the line is built at most every `everyMs`
    const at = now();
    if (at - last < everyMs) return;
    last = at;
    const s = Math.max(0.001, (at - t0) / 1000);
    const frac = est.bytes > 0 ? Math.min(1, bytes / est.bytes) : 0;
    const rows = est.rows > 0 ? ` ~${Math.round(frac * est.rows).toLocaleString('en-US')} of ~${est.rows.toLocaleString('en-US')} rows,` : '';
    report(`copying ${table}: ${formatBytes(bytes)} of ~${formatBytes(est.bytes)} (${Math.round(frac * 100)}%),${rows} ${formatBytes(bytes / s)}/s`);
  };
}

/** Names of the indexes and constraints a post-data script builds. Pure. */
export function builtNames(postData: string): string[] {
  const out: string[] = [];
  for (const m of postData.matchAll(/CREATE (?:UNIQUE )?INDEX ("(?:[^"]|"")+"|\S+)|ADD CONSTRAINT ("(?:[^"]|"")+"|\S+)/g)) out.push((m[1] ?? m[2])!.replace(/^"(.*)"$/, '$1').replace(/""/g, '"'));
  return out;
}

/** PostgreSQL's own words, shown under undrop's message. */
function pgErrorLines(e: unknown): string[] {
  const err = e as { message?: string; detail?: string };
  return [`ERROR:  ${err.message ?? String(e)}`, ...(err.detail ? [`DETAIL:  ${err.detail}`] : [])];
}
