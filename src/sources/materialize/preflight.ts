// Checks every materialize runs: enough disk in the work directory, and the
// requested tables really present in what was materialized.
import { readdir, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { prepareWorkDir } from '../../postgres/work-dir.js';
import { errorMessage, failure, isUndropError, type UndropError, usageError } from '../../errors.js';
import type pg from 'pg';
import { withClient } from '../../postgres/connect.js';
import type { ConnParams } from '../../postgres/conninfo.js';
import { type TableName, displayName, qualified } from '../../postgres/identifiers.js';
import { formatBytes } from '../../util/time.js';
import { phase } from '../../postgres/phases.js';
import { execClean } from '../../postgres/run.js';
import { isLsn, parseLsn } from '../../postgres/wal/lsn.js';
import { DEFAULT_SEGMENT_SIZE, isSegmentName, parseSegmentName, segmentName, segnoOfLsn } from '../../postgres/wal/segments.js';
import { freeBytes } from '../../util/disk.js';

/** Bytes used by a file or folder tree (du, so sparse files count as they are). */
export async function diskUsage(path: string): Promise<number> {
  // -L: a link to the data directory, its pg_wal and tablespace links are copied too, so they count.
  const r = await execClean('du', ['-sbL', path], { reject: false });
  const n = Number(String(r.stdout).split(/\s/)[0]);
  return Number.isFinite(n) ? n : 0;
}

/** What a materialize writes: the data itself, and the WAL it replays (PITR), before the margin. */
export interface SpaceNeed {
  data: number;
  wal?: number;
}

/** The requirement in words: total, and what it is made of. Pure. */
export function describeNeed(need: SpaceNeed, margin: number): string {
  const parts = [`${formatBytes(need.data)} of data written`, ...(need.wal ? [`${formatBytes(need.wal)} of WAL to replay`] : []), `a ${formatBytes(margin)} margin`];
  return `${formatBytes(need.data + (need.wal ?? 0) + margin)} (${parts.join(' + ')})`;
}

/** The safety margin on top of what is written: PostgreSQL's own files, WAL of the temporary instance. */
export function marginFor(need: SpaceNeed): number {
  return Math.max((need.data + (need.wal ?? 0)) * 0.1, 256 * 1024 * 1024);
}

/** Refuse early, with figures, when the work directory cannot hold what is about to be written. */
export async function assertDiskSpace(workDir: string, needed: number | SpaceNeed, what: string): Promise<void> {
  const need = typeof needed === 'number' ? { data: needed } : needed;
  const s = await statfs(prepareWorkDir(workDir));
  const free = Number(s.bavail) * Number(s.bsize);
  const margin = marginFor(need);
  const total = need.data + (need.wal ?? 0) + margin;
  if (free < total) {
    throw failure('DISK_SPACE', `${what} needs ${describeNeed(need, margin)} in ${workDir}, but only ${formatBytes(free)} is free there (${formatBytes(total - free)} short). Nothing was written.`, {
      hint: 'Free space there or point --work-dir at a larger filesystem (never the source\'s own).',
    });
  }
}

/** A write that failed because the work directory's filesystem filled up (after the pre-check passed). */
export function isDiskFull(e: unknown): boolean {
  const err = e as { code?: string; message?: string; details?: string[] };
  const text = [err?.message ?? String(e), ...(Array.isArray(err?.details) ? err.details : [])].join('\n');
  return err?.code === 'ENOSPC' || err?.code === '53100' || err?.code === 'DISK_FULL' || /No space left on device|ENOSPC|could not extend file|disk full/i.test(text);
}

/** Less free than this in the work directory when an instance fails: the full disk is the cause, whatever the words. */
const NEARLY_FULL = 16 * 1024 * 1024;

/**
 * isDiskFull, or any failure while the work directory has less than one WAL segment free. A full disk does not
 * always say so: a backend that cannot write its relation cache file fails the connection with "could not write
 * init file", no errno. Ask before the instance is removed (that frees the space again).
 */
export async function isDiskFullIn(e: unknown, workDir: string): Promise<boolean> {
  if (isDiskFull(e)) return true;
  const bytes = await freeBytes(workDir);
  return bytes !== undefined && bytes < NEARLY_FULL;
}

/** The same quality of message as the pre-check, for a disk that filled up during the run. */
export async function diskFullError(e: unknown, workDir: string, step: string): Promise<UndropError> {
  // the folder may be gone already
  const bytes = await freeBytes(workDir);
  const free = bytes === undefined ? 'unknown' : formatBytes(bytes);
  return failure('DISK_FULL', `The work directory ${workDir} ran out of disk space during ${step} (free when it failed: ${free}). Nothing was written to production.`, {
    hint: 'Something else is filling that filesystem, or the restore is larger than estimated: free space there (df -h) or point --work-dir at a larger filesystem, then run the same command again.',
    details: isUndropError(e) ? [e.message, ...e.details] : [errorMessage(e)],
    cause: e,
  });
}

/** WAL between two LSNs (the replay's start and its target), when both are known. Pure. */
export function walBetween(from: string | null | undefined, to: string | null | undefined): number | undefined {
  if (!from || !to || !isLsn(from) || !isLsn(to)) return undefined;
  const n = parseLsn(to) - parseLsn(from);
  return n > 0n ? Number(n) : undefined;
}

/** WAL from an LSN to the end of the archive's last segment (pgBackRest's archive max), when both are known. Pure. */
export function walToSegmentEnd(from: string | null | undefined, lastSegment: string | null | undefined): number | undefined {
  if (!from || !isLsn(from) || !lastSegment || !isSegmentName(lastSegment)) return undefined;
  const end = (parseSegmentName(lastSegment).segno + 1n) * BigInt(DEFAULT_SEGMENT_SIZE);
  const n = end - parseLsn(from);
  return n > 0n ? Number(n) : undefined;
}

/** Bytes of the segments in a WAL archive folder from the one holding `from` on (the most replay could read). */
export async function archivedWalFrom(archive: string | undefined, from: string | null | undefined): Promise<number | undefined> {
  if (!archive || !from || !isLsn(from)) return undefined;
  const first = segmentName(1, segnoOfLsn(from)).slice(8);
  let total = 0;
  for (const f of await readdir(archive).catch(() => [] as string[])) {
    if (!/^[0-9A-F]{24}(\.gz|\.zst|\.lz4)?$/.test(f) || f.slice(8, 24) < first) continue;
    total += (await stat(join(archive, f)).catch(() => ({ size: 0 }))).size;
  }
  return total || undefined;
}

/**
 * The temporary instance died of a full work directory while it replayed WAL (the pre-check counts the
 * restored data; what replay writes arrives later). Call before the instance is removed: the figures are
 * the requirement, what it is made of, and what is free once the instance is gone.
 */
export async function replayDiskFull(e: unknown, workDir: string, need: SpaceNeed, what: string, removeInstance: () => Promise<void>): Promise<UndropError> {
  await removeInstance().catch(() => {});
  const bytes = await freeBytes(workDir); // the folder may be gone already
  const free = bytes === undefined ? 'an unknown amount' : formatBytes(bytes);
  const margin = marginFor(need);
  const wal = need.wal ? '' : ' (WAL to replay: unknown)';
  return failure('DISK_FULL', `The work directory ${workDir} ran out of disk space during WAL replay (${what}): it needs about ${describeNeed(need, margin)}${wal}, but only ${free} is free there once the temporary instance is removed. Nothing was written to production.`, {
    hint: 'Free space there (df -h) or point --work-dir at a larger filesystem, then run the same command again; a target closer to the backup (or a newer base backup, --set) replays less WAL.',
    details: isUndropError(e) ? [e.message, ...e.details] : [errorMessage(e)],
    cause: e,
  });
}

export interface TableCount {
  name: string;
  rows: number;
}

/** Every requested table must exist in the materialized instance (TABLE_NOT_IN_SOURCE otherwise). */
async function assertPresent(c: pg.Client, conn: ConnParams, tables: readonly TableName[], sourceLabel: string): Promise<void> {
  const missing: string[] = [];
  for (const t of tables) {
    const exists = await c.query('select to_regclass($1) as r', [qualified(t)]);
    if (!exists.rows[0].r) missing.push(displayName(t));
  }
  if (missing.length) throw tableNotInSource(sourceLabel, missing, conn.database);
}

/** TABLE_NOT_IN_SOURCE: tables (display names) the materialized source does not hold. */
export function tableNotInSource(sourceLabel: string, missing: readonly string[], database: string | undefined): UndropError {
  return usageError('TABLE_NOT_IN_SOURCE', `${sourceLabel} does not contain ${missing.join(', ')} (database ${database}).`, 'Check the table names (schema.table, SQL spelling) and the database; `undrop probe --tables …` shows which sources hold them.');
}

/** Exact row counts; a damaged page is SOURCE_DATA_CORRUPT. */
async function countRows(c: pg.Client, conn: ConnParams, tables: readonly TableName[], sourceLabel: string, parallel: boolean): Promise<TableCount[]> {
  const count = async (own: pg.Client, t: TableName): Promise<TableCount> => {
    const r = await own.query<{ n: string }>(`select count(*)::text as n from ${qualified(t)}`).catch((e: unknown) => {
      throw corruptPage(e, sourceLabel, displayName(t)) ?? e;
    });
    return { name: displayName(t), rows: Number(r.rows[0]!.n) };
  };
  // parallel: each table counted on its own connection (a server nothing else loads: the counts use its cores)
  if (parallel && tables.length > 1) return Promise.all(tables.map((t, i) => (i === 0 ? count(c, t) : withClient(conn, (own) => count(own, t), { statementTimeoutMs: 0 }))));
  const out: TableCount[] = [];
  for (const t of tables) out.push(await count(c, t));
  return out;
}

/** Every requested table must exist in the materialized instance; returns exact row counts. */
export async function verifyTables(conn: ConnParams, tables: readonly TableName[], sourceLabel: string, o: { parallel?: boolean } = {}): Promise<TableCount[]> {
  return withClient(conn, async (c) => {
    await assertPresent(c, conn, tables, sourceLabel);
    return countRows(c, conn, tables, sourceLabel, !!o.parallel);
  }, { statementTimeoutMs: 0 });
}

/**
 * The tables' presence only, rows left at 0 (Materialized.rowsPending): for a caller that takes the exact
 * counts from reading every row later (recover: copy back's source checksums).
 */
export async function tablesPresent(conn: ConnParams, tables: readonly TableName[], sourceLabel: string): Promise<TableCount[]> {
  await withClient(conn, (c) => assertPresent(c, conn, tables, sourceLabel), { statementTimeoutMs: 30_000 });
  return tables.map((t) => ({ name: displayName(t), rows: 0 }));
}

/**
 * The lost tables in a materialized copy: counted, or only found when the caller takes the counts from
 * copy back's source checksums (rowsCountedByCaller), which read every row and page of the same copy anyway.
 */
export async function copyTables(conn: ConnParams, req: { tables: readonly TableName[]; rowsCountedByCaller?: boolean }, sourceLabel: string, instName: string): Promise<{ tables: TableCount[]; rowsPending?: true }> {
  if (req.rowsCountedByCaller) return { tables: await phase(`${instName}: check the tables are there`, () => tablesPresent(conn, req.tables, sourceLabel)), rowsPending: true };
  return { tables: await phase(`${instName}: count the tables' rows`, () => verifyTables(conn, req.tables, sourceLabel)) };
}

/** A page checksum failure (SQLSTATE XX001) reading a table: the source's copy is damaged, not the run. */
export function corruptPage(e: unknown, sourceLabel: string, table: string): UndropError | undefined {
  const err = e as { code?: string; message?: string };
  if (err?.code !== 'XX001' && !/invalid page in block|checksum verification failed/.test(err?.message ?? '')) return undefined;
  return failure('SOURCE_DATA_CORRUPT', `${sourceLabel}: table ${table} has a damaged page (${err.message}): PostgreSQL's page checksum caught a file that changed after it was written. Nothing was written to production.`, {
    hint: 'Do not use this copy. Use another base backup (--set LABEL; `undrop probe` lists them), or another source (--source NAME).',
  });
}
