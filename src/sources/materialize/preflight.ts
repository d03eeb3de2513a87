// Checks every materialize runs: enough disk in the work directory, and the
// requested tables really present in what was materialized.
import { statfs } from 'node:fs/promises';
import { prepareWorkDir } from '../../postgres/work-dir.js';
import { failure, usageError } from '../../errors.js';
import { withClient } from '../../postgres/connect.js';
import type { ConnParams } from '../../postgres/conninfo.js';
import { type TableName, displayName, qualified } from '../../postgres/identifiers.js';
import { formatBytes } from '../../util/time.js';
import { execClean } from '../../postgres/run.js';

/** Bytes used by a file or folder tree (du, so sparse files count as they are). */
export async function diskUsage(path: string): Promise<number> {
  // -L: a link to the data directory, its pg_wal and tablespace links are copied too, so they count.
  const r = await execClean('du', ['-sbL', path], { reject: false });
  const n = Number(String(r.stdout).split(/\s/)[0]);
  return Number.isFinite(n) ? n : 0;
}

/** Refuse early, with figures, when the work directory cannot hold what is about to be written. */
export async function assertDiskSpace(workDir: string, neededBytes: number, what: string): Promise<void> {
  const s = await statfs(prepareWorkDir(workDir));
  const free = Number(s.bavail) * Number(s.bsize);
  const margin = Math.max(neededBytes * 0.1, 256 * 1024 * 1024);
  if (free < neededBytes + margin) {
    throw failure('DISK_SPACE', `${what} needs about ${formatBytes(neededBytes)} in ${workDir}, but only ${formatBytes(free)} is free.`, {
      hint: 'Free space there or point --work-dir at a larger filesystem (never the source\'s own).',
    });
  }
}

export interface TableCount {
  name: string;
  rows: number;
}

/** Every requested table must exist in the materialized instance; returns exact row counts. */
export async function verifyTables(conn: ConnParams, tables: readonly TableName[], sourceLabel: string): Promise<TableCount[]> {
  return withClient(conn, async (c) => {
    const missing: string[] = [];
    const out: TableCount[] = [];
    for (const t of tables) {
      const exists = await c.query('select to_regclass($1) as r', [qualified(t)]);
      if (!exists.rows[0].r) {
        missing.push(displayName(t));
        continue;
      }
      const r = await c.query<{ n: string }>(`select count(*)::text as n from ${qualified(t)}`);
      out.push({ name: displayName(t), rows: Number(r.rows[0]!.n) });
    }
    if (missing.length) {
      throw usageError('TABLE_NOT_IN_SOURCE', `${sourceLabel} does not contain ${missing.join(', ')} (database ${conn.database}).`, 'Check the table names (schema.table, SQL spelling) and the database; `undrop probe --tables …` shows which sources hold them.');
    }
    return out;
  }, { statementTimeoutMs: 0 });
}
