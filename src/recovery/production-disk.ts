// Production's disk during copy back. A side schema written onto a full
// disk fails with "could not extend file" and rolls back (harmless), but a
// pg_wal that fills stops PostgreSQL (PANIC): production down on the worst
// day. So before the copy transaction, when production's data directory is
// on this host, undrop compares what copy back writes (table data + indexes,
// and their WAL when pg_wal shares the filesystem) with what is free there,
// and a disk that fills anyway is reported with the same figures.
import { readFile, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { failure, type UndropError } from '../errors.js';
import type { ConnParams } from '../postgres/conninfo.js';
import { formatBytes } from '../util/time.js';

/** What copy back writes into production, from the source's sizes. */
export interface CopyBackNeed {
  data: number;
  indexes: number;
  /** WAL written on the same filesystem (0 when pg_wal is elsewhere or production's disk is not visible). */
  wal: number;
}

/** Production's disk as seen from this host: where the side schema's files go, and how much is free there. */
export interface ProductionDisk {
  /** The data directory, or the database's default tablespace when it has one. */
  path: string;
  what: string;
  free: number;
  walSameFs: boolean;
  maxWalSize: number;
}

/**
 * Table data (heap + TOAST) and indexes of the tables where copy back reads
 * them: exact on a temporary instance; from pg_class alone on a paused
 * replica (sizing a table takes a lock the replayed DROP may hold there).
 */
export async function copyBackSizes(c: pg.Client, tables: readonly { schema: string; name: string }[], o: { exact: boolean }): Promise<{ data: number; indexes: number }> {
  const match = 'FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN unnest($1::text[], $2::text[]) AS t(s, r) ON n.nspname = t.s AND c.relname = t.r';
  const sql = o.exact
    ? `SELECT coalesce(sum(pg_table_size(c.oid)), 0)::text AS data, coalesce(sum(pg_indexes_size(c.oid)), 0)::text AS indexes ${match}`
    : `SELECT coalesce(sum(c.relpages + coalesce((SELECT relpages FROM pg_class x WHERE x.oid = c.reltoastrelid), 0)), 0) * current_setting('block_size')::int8 AS data,
         coalesce(sum((SELECT sum(i.relpages) FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid WHERE ix.indrelid = c.oid)), 0) * current_setting('block_size')::int8 AS indexes ${match}`;
  const r = await c.query<{ data: string; indexes: string }>(sql, [tables.map((t) => t.schema), tables.map((t) => t.name)]);
  return { data: Number(r.rows[0]!.data), indexes: Number(r.rows[0]!.indexes) };
}

const LOCAL = /^(localhost|127\.\d+\.\d+\.\d+|::1)$/;

/**
 * Production's disk, when it is this host's: connected through a Unix socket
 * or loopback, and the data directory's postmaster.pid names the same
 * server (same start time and port; an SSH tunnel to another host has the
 * same path at best). undefined when it cannot be seen from here.
 */
export async function productionDisk(p: pg.Client, params: ConnParams): Promise<ProductionDisk | undefined> {
  if (params.host && !params.host.startsWith('/') && !LOCAL.test(params.host)) return undefined;
  try {
    const r = await p.query<{ dir: string; started: string; port: string; ts: string | null; wal: string }>(`SELECT current_setting('data_directory') AS dir, floor(extract(epoch FROM pg_postmaster_start_time()))::text AS started,
        current_setting('port') AS port, (SELECT CASE WHEN dattablespace = 1663 THEN NULL ELSE pg_tablespace_location(dattablespace) END FROM pg_database WHERE datname = current_database()) AS ts,
        (SELECT setting::bigint * 1024 * 1024 FROM pg_settings WHERE name = 'max_wal_size')::text AS wal`);
    const row = r.rows[0]!;
    const pid = (await readFile(join(row.dir, 'postmaster.pid'), 'utf8')).split('\n');
    // postmaster.pid: pid, data directory, start time (epoch seconds, taken a moment apart from pg_postmaster_start_time), port
    if (pid[1] !== row.dir || Math.abs(Number(pid[2]) - Number(row.started)) > 2 || pid[3] !== row.port) return undefined;
    const path = row.ts || row.dir;
    const s = await statfs(path);
    const walSameFs = (await stat(join(row.dir, 'pg_wal'))).dev === (await stat(path)).dev;
    return { path, what: row.ts ? "the database's default tablespace" : "production's data directory", free: Number(s.bavail) * Number(s.bsize), walSameFs, maxWalSize: Number(row.wal) };
  } catch {
    // Not a superuser (data_directory hidden), or the files are not readable from here.
    return undefined;
  }
}

/** WAL counts when it lands on the same filesystem: as much as is written, at most about max_wal_size before a checkpoint recycles it. */
export function needOn(disk: ProductionDisk | undefined, sizes: { data: number; indexes: number }): CopyBackNeed {
  return { ...sizes, wal: disk?.walSameFs ? Math.min(sizes.data + sizes.indexes, disk.maxWalSize) : 0 };
}

/** "180 MB (120 MB of table data + 40 MB of indexes + 20 MB of WAL on the same filesystem)". Pure. */
export function describeCopyBackNeed(n: CopyBackNeed): string {
  const parts = [`${formatBytes(n.data)} of table data`, `${formatBytes(n.indexes)} of indexes`, ...(n.wal ? [`${formatBytes(n.wal)} of WAL on the same filesystem`] : [])];
  return `${formatBytes(n.data + n.indexes + n.wal)} (${parts.join(' + ')})`;
}

const total = (n: CopyBackNeed) => n.data + n.indexes + n.wal;

/** Refuse before the copy transaction when production's disk (seen from here) cannot hold it. */
export function assertProductionSpace(disk: ProductionDisk | undefined, need: CopyBackNeed): void {
  if (!disk || disk.free >= total(need)) return;
  throw failure('PRODUCTION_DISK_SPACE', `Copy back writes about ${describeCopyBackNeed(need)} into production, on the filesystem of ${disk.path} (${disk.what}), but only ${formatBytes(disk.free)} is free there (${formatBytes(total(need) - disk.free)} short). Nothing was written.`, {
    hint: `Free space there first${need.wal ? ' (a pg_wal that fills up stops PostgreSQL)' : ''}, or copy fewer tables per run (--tables).`,
  });
}

/** Production's disk filled during the copy transaction (53100): PostgreSQL rolled it back. Same figures as the pre-check. */
export async function productionDiskFullError(e: unknown, o: { need: CopyBackNeed; disk: ProductionDisk | undefined; phase: string; details: string[] }): Promise<UndropError> {
  let free = 'unknown';
  if (o.disk) free = await statfs(o.disk.path).then((s) => formatBytes(Number(s.bavail) * Number(s.bsize))).catch(() => 'unknown');
  const where = o.disk ? `on the filesystem of ${o.disk.path} (${o.disk.what}; free now, after the rollback: ${free})` : '(its disk cannot be seen from this host: check df on the server)';
  return failure('PRODUCTION_DISK_FULL', `Production ran out of disk space during copy back (${o.phase}), of the about ${describeCopyBackNeed(o.need)} it writes, ${where}. PostgreSQL rolled the copy back: nothing was published.`, {
    hint: 'Something else is filling that disk, or the copy is larger than it has room for: free space on the production server (df -h) or copy fewer tables per run (--tables), then run the same command again.',
    details: o.details,
    cause: e,
  });
}
