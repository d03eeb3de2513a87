// Production's side of copy back, in parallel and still all-or-nothing:
//   1. one short transaction creates a staging schema (undrop_staging_…)
//      with the empty tables and sequences (pre-data);
//   2. each table is loaded on its own connection, in its own transaction:
//      TRUNCATE (so COPY may FREEZE), binary COPY, its checksum while the
//      pages are in memory, its keys and indexes — several tables at once;
//   3. what spans tables (FKs between recovered tables, triggers, comments
//      on indexes) in one transaction once every table is built;
//   4. publish: ALTER SCHEMA staging RENAME TO the side schema, alone in
//      the last transaction.
// Nothing is ever visible under the side schema's name until step 4 commits,
// and it commits only after every table was loaded, checksummed and built.
// Any failure (or a signal) drops the staging schema; a run killed outright
// leaves it under its undrop_staging_ name (recorded in the timeline), which
// nothing reads and locate lists as undrop's own.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { failure, type UndropError } from '../errors.js';
import { interruptedSignal, registerCleanup } from '../postgres/cleanup.js';
import { connect, withClient } from '../postgres/connect.js';
import type { ConnParams } from '../postgres/conninfo.js';
import { displayName, quoteIdent, quoteLiteral } from '../postgres/identifiers.js';
import type { ResolvedTable, SequenceState } from './catalog.js';
import { type ChecksumAlgorithm, type TableChecksum, tableChecksum } from './checksum.js';
import { commitOrFindOut } from './commit.js';
import { copyStatements, copyTable } from './copy-data.js';
import { hasStatements, type SchemaDdl } from './ddl.js';
import { productionWriteError } from './pg-errors.js';
import { maintenanceWorkers, WORKER_POOLS_SQL } from './index-workers.js';
import { splitPostData } from './post-data-split.js';
import type { Timeline } from './timeline.js';
import { formatBytes } from '../util/time.js';

/** A fresh staging schema name: undrop_ (locate treats its drop as undrop's own), never a user's. */
export function stagingSchemaName(): string {
  return `undrop_staging_${randomBytes(6).toString('hex')}`;
}

export interface StagedCopyPlan {
  /** The side schema to publish. */
  schema: string;
  /** Where the tables sit in the source, and are built in production until published (the DDL names it). */
  staging: string;
  tables: ResolvedTable[];
  ddl: SchemaDdl;
  sequences: SequenceState[];
  columns: Map<number, string[]>;
  maintenanceWorkMem: string;
  /** Compression of the rows' large values (toast-compression.ts); null: the server's default. */
  toastCompression?: 'lz4' | null;
  /** Tables loaded at once (each on its own pair of connections). */
  parallel: number;
  /** Production's CPUs, when it runs on this host (index builds then get workers only from spare cores). */
  productionCores?: number;
  /** Each table's checksum algorithm (the source side uses the same). */
  algorithm: (t: ResolvedTable) => ChecksumAlgorithm;
  production: ConnParams;
  /**
   * An open connection to production (same parameters and application name as a new one, no session settings
   * changed), handed over for step 1 instead of a new connection; writeStaged ends it in every case.
   */
  control?: pg.Client;
  /** Where the rows are read: the instance, or a read-only server (rowsAt names the tables there). */
  source: ConnParams;
  sourceSession: { statementTimeoutMs?: number; lockTimeoutMs?: number };
  rowsAt: (t: ResolvedTable) => { schema: string; name: string };
  onProgress?: (message: string) => void;
  /** Byte meter of one table's COPY (progress), when wanted. */
  meter?: (table: ResolvedTable) => Promise<((n: number) => void) | undefined>;
  /** Production's disk filled (53100): the error with the copy's figures, given where it stopped. */
  diskFull?: (e: unknown, phase: string) => Promise<UndropError>;
  /** An error reading a table's rows from the source, in the user's words when known (a damaged page); undefined: as is. */
  sourceReadError?: (e: unknown, table: ResolvedTable) => UndropError | undefined;
  /**
   * Awaited just before the publishing transaction, with no production connection open; a rejection drops the
   * staging schema like any other failure and is thrown as is (recover: the identity verdict, when copy back
   * started before it).
   */
  beforePublish?: () => Promise<void>;
}

const isDiskFull = (e: unknown) => (e as { code?: string })?.code === '53100';

export interface StagedTable {
  table: ResolvedTable;
  rows: number;
  bytes: number;
  durationMs: number;
  checksum: TableChecksum;
  /** When this table's production checksum ran (epoch ms): the loads overlap, so time is counted as the union. */
  checksumSpan: [number, number];
}

export interface StagedCopyResult {
  tables: StagedTable[];
  preDataMs: number;
  /** Wall time of the parallel loads (rows, checksums, per-table keys and indexes). */
  loadMs: number;
  postDataMs: number;
  publishMs: number;
}

const APP = 'undrop copy back';

/**
 * A production connection of this copy back: its backend is listed while it
 * works (a failure elsewhere, or a signal, ends it before the staging schema
 * is dropped), and nothing commits once a signal arrived — a statement that
 * was waiting for a lock must not publish while undrop is stopping.
 */
async function onProduction<T>(plan: StagedCopyPlan, busy: Set<number>, tl: Timeline, fn: (p: pg.Client) => Promise<T>, open?: pg.Client, commitDetail?: Record<string, string>): Promise<T> {
  const p = open ?? (await connect(plan.production, { applicationName: APP }));
  let pid: number | undefined;
  try {
    pid = Number((await p.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
    busy.add(pid);
    await p.query('BEGIN');
    const out = await fn(p);
    // checked right before COMMIT is sent: a signal that came while a statement waited must not see it commit
    await commitOrFindOut(p, plan.production, 'copy back', tl, () => {
      const signal = interruptedSignal();
      if (signal) throw failure('INTERRUPTED', `Copy back stopped by ${signal} before its COMMIT.`);
    }, commitDetail);
    return out;
  } catch (e) {
    await p.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    if (pid !== undefined) busy.delete(pid);
    await p.end().catch(() => {});
  }
}

/** Run up to `limit` tasks at once; the first failure is thrown once all have settled. */
async function inParallel<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>, onFailure: () => Promise<void>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  let failed: { e: unknown } | undefined;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!);
      } catch (e) {
        if (!failed) {
          failed = { e };
          await onFailure();
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed) throw failed.e;
  return out;
}

/** Length of the union of time spans (overlapping checksums counted once). Pure. */
export function unionMs(spans: [number, number][]): number {
  let total = 0;
  let end = -Infinity;
  for (const [a, b] of [...spans].sort((x, y) => x[0] - y[0])) {
    if (b <= end) continue;
    total += b - Math.max(a, end);
    end = b;
  }
  return total;
}

export async function writeStaged(plan: StagedCopyPlan, tl: Timeline): Promise<StagedCopyResult> {
  const { staging } = plan;
  const q = quoteIdent(staging);
  // Backends of the loads in flight: a failure elsewhere (or a signal) ends them before the staging schema is dropped.
  const busy = new Set<number>();
  const stop = async () => {
    if (!busy.size) return;
    await withClient(plan.production, (c) => c.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [[...busy]]), { applicationName: `${APP} (cleanup)`, statementTimeoutMs: 10_000 }).catch(() => {});
  };
  const dropStaging = async () => {
    await stop();
    await withClient(plan.production, (c) => c.query(`DROP SCHEMA IF EXISTS ${q} CASCADE`), { applicationName: `${APP} (cleanup)`, statementTimeoutMs: 60_000, lockTimeoutMs: 30_000 });
  };
  const unregister = registerCleanup({ label: `staging schema ${staging} in production`, run: () => dropStaging().catch(() => {}), runSync: () => {} });
  // Where a full disk stopped it, in the user's words (a table's load says it itself).
  let phase = 'while creating the tables';
  try {
    // 1. The empty tables and sequences, committed: the loaders' connections must see them.
    let t0 = Date.now();
    tl.event('staging-schema', { schema: staging, publishAs: plan.schema });
    let workers = 0;
    // the caller's open connection when given (onProduction ends it), else a new one
    await onProduction(
      plan,
      busy,
      tl,
      async (p) => {
        const pools = (await p.query<{ wp: number; pw: number; busy: number }>(WORKER_POOLS_SQL)).rows[0]!;
        workers = maintenanceWorkers({ maxWorkerProcesses: pools.wp, maxParallelWorkers: pools.pw, busy: pools.busy }, Math.min(plan.parallel, plan.tables.length), plan.productionCores);
        tl.event('index-build-workers', { perTable: workers, parallel: plan.parallel, maxWorkerProcesses: pools.wp, maxParallelWorkers: pools.pw, busy: pools.busy, ...(plan.productionCores ? { productionCores: plan.productionCores } : {}) });
        await tl.step('create staging schema and tables (pre-data)', () => p.query(plan.ddl.preData));
        for (const s of plan.sequences) {
          await p.query(`SELECT pg_catalog.setval(${quoteLiteral(`${q}.${quoteIdent(s.name)}`)}::regclass, $1::bigint, $2)`, [s.lastValue, s.isCalled]);
          tl.event('sequence-set', { sequence: displayName({ schema: plan.schema, name: s.name }), lastValue: s.lastValue, isCalled: s.isCalled });
        }
      },
      plan.control,
    );
    const preDataMs = Date.now() - t0;

    // 2. Each table on its own connections: rows, checksum, keys and indexes, commit.
    const post = splitPostData(plan.ddl.postData, staging, plan.tables.map((t) => t.name));
    t0 = Date.now();
    const loaded = await tl.step('copy rows, checksums, keys and indexes (tables in parallel)', () =>
      inParallel(plan.tables, plan.parallel, (t) => loadOne(plan, t, post.header, post.perTable.get(t.name), busy, tl, workers), stop),
    );
    const loadMs = Date.now() - t0;

    // 3. What spans tables, once all are built.
    t0 = Date.now();
    phase = 'while building the foreign keys between the tables, after every row was copied';
    if (hasStatements(post.after)) {
      await tl.step('build foreign keys, triggers, comments (post-data)', () =>
        onProduction(plan, busy, tl, async (p) => {
          await p.query(`SET LOCAL maintenance_work_mem = ${quoteLiteral(plan.maintenanceWorkMem)}`);
          await p.query(`${post.header}\n${post.after}`);
        }),
      );
    }
    const postDataMs = Date.now() - t0;

    // 4. Publish: one rename, alone in the last transaction — once the caller's gate (if any) says so.
    if (plan.beforePublish) {
      phase = 'while waiting to publish the side schema';
      await plan.beforePublish();
    }
    t0 = Date.now();
    phase = 'while publishing the side schema';
    // its COMMIT names the side schema (a fact at once: a stop from here on says the side schema is there)
    await tl.step('publish (ALTER SCHEMA … RENAME)', () => onProduction(plan, busy, tl, (p) => p.query(`ALTER SCHEMA ${q} RENAME TO ${quoteIdent(plan.schema)}`), undefined, { schema: plan.schema }));
    return { tables: loaded, preDataMs, loadMs, postDataMs, publishMs: Date.now() - t0 };
  } catch (e) {
    // Whether the publish committed is unknown: its staging name is gone if it did, so the drop below is a no-op then.
    const err = isDiskFull(e) && plan.diskFull ? await plan.diskFull(e, phase) : productionWriteError(e, 'copy back');
    try {
      await dropStaging();
    } catch (d) {
      throw failure(err.code, `Copy back failed (${err.message}), and its staging schema ${staging} could not be dropped: ${(d as Error).message}. Nothing was published under ${plan.schema}.`, {
        hint: `When production is reachable: DROP SCHEMA ${q} CASCADE;`,
        cause: e,
      });
    }
    tl.event('staging-schema-dropped', { schema: staging });
    throw err;
  } finally {
    unregister();
  }
}

async function loadOne(plan: StagedCopyPlan, t: ResolvedTable, header: string, keys: string | undefined, busy: Set<number>, tl: Timeline, workers: number): Promise<StagedTable> {
  const to = { schema: plan.staging, name: t.name };
  const src = await connect(plan.source, { applicationName: `${APP} (source)`, ...plan.sourceSession });
  const name = displayName(t);
  let phase = `while copying ${name}, before its first rows were written`;
  try {
    return await onProduction(plan, busy, tl, async (prod) => {
      await prod.query(`SET LOCAL maintenance_work_mem = ${quoteLiteral(plan.maintenanceWorkMem)}`);
      // this table's index builds: its share of the server's worker pools (index-workers.ts)
      await prod.query(`SET LOCAL max_parallel_maintenance_workers = ${workers}`);
      if (plan.toastCompression) await prod.query(`SET LOCAL default_toast_compression = ${plan.toastCompression}`);
      // Truncated in this transaction: COPY may write the rows already frozen.
      await prod.query(`TRUNCATE ${quoteIdent(to.schema)}.${quoteIdent(to.name)}`);
      const meter = await plan.meter?.(t);
      let written = 0;
      const count = (n: number) => {
        written += n;
        phase = `while copying ${name}, after ${formatBytes(written)} of its rows`;
        meter?.(n);
      };
      const stats = await copyTable(src, prod, copyStatements(plan.rowsAt(t), to, plan.columns.get(t.oid) ?? [], { freeze: true }), count, (e) => plan.sourceReadError?.(e, t));
      tl.event('table-copied', { table: displayName(t), recoveredAs: displayName({ schema: plan.schema, name: t.name }), rows: stats.rows, bytes: stats.bytes, durationMs: stats.durationMs });
      const c0 = Date.now();
      plan.onProgress?.(`checksumming ${displayName({ schema: plan.schema, name: t.name })} (${stats.rows.toLocaleString('en-US')} rows copied)`);
      const checksum = await tableChecksum(prod, to, { inTransaction: true, algorithm: plan.algorithm(t) });
      const checksumSpan: [number, number] = [c0, Date.now()];
      if (keys && hasStatements(keys)) {
        phase = `while building the keys and indexes of ${name}, after its ${formatBytes(stats.bytes)} of rows`;
        plan.onProgress?.(`building the keys and indexes of ${displayName({ schema: plan.schema, name: t.name })}`);
        await prod.query(`${header}\n${keys}`);
      }
      // where this table's load spent its time (the bench reads it)
      tl.event('table-loaded', { table: name, copyMs: stats.durationMs, checksumMs: checksumSpan[1] - c0, keysMs: Date.now() - checksumSpan[1] });
      return { table: t, rows: stats.rows, bytes: stats.bytes, durationMs: stats.durationMs, checksum, checksumSpan };
    });
  } catch (e) {
    throw isDiskFull(e) && plan.diskFull ? await plan.diskFull(e, phase) : e;
  } finally {
    await src.end().catch(() => {});
  }
}
