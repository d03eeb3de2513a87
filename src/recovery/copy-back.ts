// Copy back: the wanted tables go into a new side schema in production, in
// ONE transaction: pre-data DDL (schema, tables, sequences, defaults,
// comments) → sequence values → rows (binary COPY, streamed) → post-data DDL
// (keys, indexes, constraints, FKs between recovered tables) → COMMIT
// (autovacuum analyzes the new tables afterwards). Any failure, including a lost connection, rolls everything back,
// so no side schema is left behind. An existing schema is never reused.
//
// The DDL is pg_dump's: in the materialized (disposable) instance the tables
// are first moved into a schema of the same name (ALTER TABLE … SET SCHEMA
// carries owned/identity sequences, indexes, constraints and FKs along).
//
// Verification rides along (checksum.ts): the source side is checksummed on
// its own connections, one per table, while the rows stream (the
// materialized instance is otherwise idle), and each table's production side
// inside the copy transaction right after its load, while its pages are still
// in memory. verify.ts compares the two.
import type pg from 'pg';
import { failure, usageError } from '../errors.js';
import { withClient } from '../postgres/connect.js';
import type { PgBinaries } from '../postgres/binaries.js';
import { connect } from '../postgres/connect.js';
import { type ConnParams, describe } from '../postgres/conninfo.js';
import { displayName, quoteIdent, quoteLiteral, type TableName } from '../postgres/identifiers.js';
import { copyColumns, type ForeignKeyInfo, foreignKeysLeavingSet, type ResolvedTable, resolveTables, schemaExists, type SequenceState, sequencesIn } from './catalog.js';
import { type ChecksumAlgorithm, chooseAlgorithm, hashFingerprint, type TableChecksum, tableChecksum } from './checksum.js';
import { copyStatements, copyTable } from './copy-data.js';
import { hasStatements, type SchemaDdl, schemaDdl } from './ddl.js';
import { commitOrFindOut } from './commit.js';
import { productionWriteError } from './pg-errors.js';
import { assertProductionSpace, type CopyBackNeed, copyBackSizes, productionDisk, productionDiskFullError, type ProductionDisk, needOn } from './production-disk.js';
import { sideSchemaName } from './side-schema.js';
import { silentTimeline, type Timeline } from './timeline.js';
import { formatBytes } from '../util/time.js';

export interface CopyBackSource {
  /** Connection to the materialized instance (database included, or given below). */
  conn: ConnParams;
  database: string;
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
  /** maintenance_work_mem for the index builds of this transaction (default 256MB). */
  maintenanceWorkMem?: string;
  /** Progress lines: bytes and rows per table against the source's estimate, index builds by name. */
  onProgress?: (message: string) => void;
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
  /** Where the tables now are in the materialized instance (the side schema there). */
  sourceSchema: string;
  production: { lsnBefore: string | null; lsnAfter: string | null };
  timings: { ddlMs: number; preDataMs: number; dataMs: number; postDataMs: number; totalMs: number;
    /** Production side, inside the copy transaction. */
    checksumMs: number;
    /** Source side, on its own connections while the copy ran. */
    sourceChecksumMs: number;
    /** What the source side still took after the commit (0 when it finished during the copy). */
    sourceWaitMs: number;
  };
  /** Checksums taken during the copy, per table in `tables` order: what verify compares. */
  checksums: { algorithm: ChecksumAlgorithm; source: TableChecksum[]; copy: TableChecksum[] };
}

const sourceLabel = 'the materialized source';

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

interface SideSchemaPlan {
  schema: string;
  tables: ResolvedTable[];
  ddl: SchemaDdl;
  sequences: SequenceState[];
  columns: Map<number, string[]>;
  maintenanceWorkMem: string;
  algorithm: ChecksumAlgorithm;
  onProgress?: (message: string) => void;
  /** Where to ask, after a connection lost at COMMIT, whether it committed. */
  production: ConnParams;
  /** What the copy writes and production's disk (when visible from here): for a disk that fills anyway. */
  need: CopyBackNeed;
  disk: ProductionDisk | undefined;
}

/**
 * Production's one transaction: the side schema's tables (pre-data), their
 * sequences, the rows (COPY binary, FREEZE), then keys, indexes and
 * constraints (post-data). Rolled back whole on any error.
 */
async function writeSideSchema(
  src: pg.Client,
  p: pg.Client,
  plan: SideSchemaPlan,
  tl: Timeline,
): Promise<{ copied: CopiedTable[]; copySums: TableChecksum[]; preDataMs: number; dataMs: number; postDataMs: number; checksumMs: number }> {
  const { schema } = plan;
  const copied: CopiedTable[] = [];
  const copySums: TableChecksum[] = [];
  let checksumMs = 0;
  // Where a full disk stopped it, in the user's words.
  let phase = 'while creating the side schema and its tables';
  try {
    await p.query('BEGIN');
    await p.query(`SET LOCAL maintenance_work_mem = ${quoteLiteral(plan.maintenanceWorkMem)}`);
    let t0 = Date.now();
    await tl.step('create side schema and tables (pre-data)', () => p.query(plan.ddl.preData));
    for (const s of plan.sequences) {
      await p.query(`SELECT pg_catalog.setval(${quoteLiteral(`${quoteIdent(schema)}.${quoteIdent(s.name)}`)}::regclass, $1::bigint, $2)`, [s.lastValue, s.isCalled]);
      tl.event('sequence-set', { sequence: displayName({ schema, name: s.name }), lastValue: s.lastValue, isCalled: s.isCalled });
    }
    const preDataMs = Date.now() - t0;
    t0 = Date.now();
    await tl.step('copy rows (COPY binary)', async () => {
      for (const t of plan.tables) {
        const to = { schema, name: t.name };
        const est = plan.onProgress ? await sizeEstimate(src, t.oid) : undefined;
        const meter = est ? copyMeter(displayName(t), est, plan.onProgress!) : undefined;
        let written = 0;
        phase = `while copying ${displayName(t)}, before its first rows were written`;
        const count = (n: number) => {
          written += n;
          phase = `while copying ${displayName(t)}, after ${formatBytes(written)} of its rows`;
          meter?.(n);
        };
        const stats = await copyTable(src, p, copyStatements(to, to, plan.columns.get(t.oid) ?? [], { freeze: true }), count);
        const c: CopiedTable = {
          name: displayName(t),
          original: { schema: t.schema, name: t.name },
          recoveredAs: to,
          recoveredAsName: displayName(to),
          rows: stats.rows,
          bytes: stats.bytes,
          durationMs: stats.durationMs,
        };
        copied.push(c);
        tl.event('table-copied', { table: c.name, recoveredAs: c.recoveredAsName, rows: c.rows, bytes: c.bytes, durationMs: c.durationMs });
        // the rows just loaded, read back in this transaction while they are still in memory
        const c0 = Date.now();
        plan.onProgress?.(`checksumming ${c.recoveredAsName} (${c.rows.toLocaleString('en-US')} rows copied)`);
        copySums.push(await tableChecksum(p, to, { inTransaction: true, algorithm: plan.algorithm }));
        checksumMs += Date.now() - c0;
      }
    });
    const dataMs = Date.now() - t0 - checksumMs;
    t0 = Date.now();
    if (hasStatements(plan.ddl.postData)) {
      phase = 'while building keys and indexes, after every row was copied';
      const built = builtNames(plan.ddl.postData);
      plan.onProgress?.(`building ${built.length} key(s), index(es) and constraint(s): ${built.join(', ')}`);
      await tl.step('build keys, indexes, constraints (post-data)', () => p.query(plan.ddl.postData));
    }
    const postDataMs = Date.now() - t0;
    await commitOrFindOut(p, plan.production, 'copy back', tl);
    return { copied, copySums, preDataMs, dataMs, postDataMs, checksumMs };
  } catch (e) {
    await p.query('ROLLBACK').catch(() => {});
    if ((e as { code?: string })?.code === '53100') {
      const err = e as { message?: string; detail?: string };
      throw await productionDiskFullError(e, { need: plan.need, disk: plan.disk, phase, details: [`ERROR:  ${err.message ?? ''}`, ...(err.detail ? [`DETAIL:  ${err.detail}`] : [])] });
    }
    throw productionWriteError(e, 'copy back');
  }
}

export async function copyBack(req: CopyBackRequest): Promise<CopyBackResult> {
  const tl = req.timeline ?? silentTimeline;
  const started = Date.now();
  const schema = sideSchemaName(req.schema, req.now);
  const sourceConn: ConnParams = { ...req.source.conn, database: req.source.database };
  const src = await connect(sourceConn, { applicationName: 'undrop copy back (source)' });
  let prod: pg.Client | undefined;
  let moved: ResolvedTable[] | undefined;
  let committed = false;
  let sourcePending: Promise<unknown> | undefined;
  try {
    const tables = await resolveTables(src, req.tables, sourceLabel);
    await assertWritable(src);
    if (await schemaExists(src, schema)) {
      throw usageError('SIDE_SCHEMA_EXISTS', `Schema ${schema} already exists in ${sourceLabel}.`, 'Choose another name with --schema.');
    }
    prod = await connect(req.production, { applicationName: 'undrop copy back' });
    if (await schemaExists(prod, schema)) {
      throw usageError('SIDE_SCHEMA_EXISTS', `Schema ${schema} already exists in production (${describe(req.production)}); it is never overwritten.`, 'Choose another name with --schema, or drop the old side schema once you no longer need it.');
    }
    const leftOut = await foreignKeysLeavingSet(src, tables);
    for (const fk of leftOut) {
      tl.event('foreign-key-left-out', { table: displayName(fk.table), constraint: fk.name, references: displayName(fk.references), definition: fk.definition });
    }

    await tl.step('prepare source', () => moveInSource(src, tables, schema), { schema });
    moved = tables;

    const ddlStarted = Date.now();
    const ddl = await tl.step('take DDL (pg_dump --schema-only)', () => schemaDdl(req.bin, sourceConn, schema, { workDir: req.workDir, excludeConstraintOids: leftOut.map((f) => f.oid) }));
    const sequences = await sequencesIn(src, schema);
    const columns = new Map<number, string[]>();
    for (const t of tables) columns.set(t.oid, await copyColumns(src, t.oid));
    const ddlMs = Date.now() - ddlStarted;

    // Same encoding and byte order on both servers: the cheap hash; otherwise md5 (checksum.ts).
    const algorithm = chooseAlgorithm(await hashFingerprint(src), await hashFingerprint(prod));
    tl.event('checksum-algorithm', { algorithm });
    const sourceStarted = Date.now();
    let sourceChecksumMs = 0;
    const sourceSums = Promise.all(
      tables.map((t) =>
        withClient(sourceConn, (c) => tableChecksum(c, { schema, name: t.name }, { algorithm }), { applicationName: 'undrop verify (source)', statementTimeoutMs: 0 }),
      ),
    ).finally(() => {
      sourceChecksumMs = Date.now() - sourceStarted;
    });
    sourceSums.catch(() => {}); // awaited below; a failure before that must not go unhandled
    sourcePending = sourceSums;

    // Production's disk, when this host can see it: refuse before writing rather than fill it (a full pg_wal stops PostgreSQL).
    const disk = await productionDisk(prod, req.production);
    const need = needOn(disk, await copyBackSizes(src, tables));
    tl.event('production-disk', { need, ...(disk ? { path: disk.path, free: disk.free, walSameFs: disk.walSameFs } : { visible: false }) });
    assertProductionSpace(disk, need);

    const lsnBefore = await currentLsn(prod);
    tl.lsn('production before copy back', lsnBefore, 'production');
    const w = await writeSideSchema(src, prod, { schema, tables, ddl, sequences, columns, maintenanceWorkMem: req.maintenanceWorkMem ?? '256MB', algorithm, onProgress: req.onProgress, production: req.production, need, disk }, tl);
    committed = true;
    const lsnAfter = await currentLsn(prod);
    tl.lsn('production after copy back (commit)', lsnAfter, 'production');
    const waitStarted = Date.now();
    const sourceChecksums = await sourceSums.catch((e: unknown) => {
      throw failure('VERIFY_FAILED', `Could not checksum the tables in ${sourceLabel}: ${(e as Error).message}.`, {
        hint: `The side schema ${schema} is in production but unverified: do not promote it; run recover again.`,
        cause: e,
      });
    });
    tl.event('checksums-taken', { algorithm, productionMs: w.checksumMs, sourceMs: sourceChecksumMs, sourceWaitMs: Date.now() - waitStarted });
    return {
      schema,
      tables: w.copied,
      sequences,
      foreignKeysLeftOut: leftOut,
      sourceSchema: schema,
      production: { lsnBefore, lsnAfter },
      timings: { ddlMs, preDataMs: w.preDataMs, dataMs: w.dataMs, postDataMs: w.postDataMs, totalMs: Date.now() - started, checksumMs: w.checksumMs, sourceChecksumMs, sourceWaitMs: Date.now() - waitStarted },
      checksums: { algorithm, source: sourceChecksums, copy: w.copySums },
    };
  } finally {
    if (!committed && moved) {
      // Let the source checksums finish (they hold the tables) before moving the tables back.
      await sourcePending?.catch(() => {});
      // The source connection may be mid-COPY after a production failure: use a fresh one.
      await src.end().catch(() => {});
      const again = await connect(sourceConn, { applicationName: 'undrop copy back (source)' }).catch(() => undefined);
      if (again) {
        await restoreInSource(again, moved, schema);
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
  const src = await connect({ ...source.conn, database: source.database }, { applicationName: 'undrop copy back (source)' });
  try {
    const tables = result.tables.map((t) => ({ schema: t.original.schema, name: t.original.name, oid: 0 }));
    await restoreInSource(src, tables, result.sourceSchema);
  } finally {
    await src.end().catch(() => {});
  }
}

/** The source's own estimate of a table: planner rows and bytes on disk (what progress counts against). */
async function sizeEstimate(src: pg.Client, oid: number): Promise<{ rows: number; bytes: number }> {
  const r = await src.query<{ rows: string; bytes: string }>('SELECT greatest(reltuples, 0)::int8::text AS rows, pg_relation_size(oid)::text AS bytes FROM pg_class WHERE oid = $1', [oid]);
  return { rows: Number(r.rows[0]?.rows ?? 0), bytes: Number(r.rows[0]?.bytes ?? 0) };
}

/** onBytes for copyTable: a progress line with bytes, estimated rows and rate (the caller throttles display). */
export function copyMeter(table: string, est: { rows: number; bytes: number }, report: (m: string) => void, now: () => number = Date.now): (n: number) => void {
  const t0 = now();
  let bytes = 0;
  return (n) => {
    bytes += n;
    const s = Math.max(0.001, (now() - t0) / 1000);
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
