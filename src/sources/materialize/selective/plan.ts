// Selective restore for PITR, as pgBackRest's --db-include does: when the lost
// tables live in one database, restore that database's base/<oid>/ folder,
// global/, every folder other than base/ and the system databases (OID <
// 16384: template1, template0, postgres) in full, and replace every file of
// the other databases with a sparse file of the same size (their PG_VERSION
// and pg_filenode.map stay real). Replay stays correct because, with
// full_page_writes on, the first change to every page after the backup's
// checkpoint carries a full-page image, so replay never reads an old page of
// a left-out database; what those databases hold afterwards is garbage, and
// only the restored ones are read.
//
// The name → OID mapping comes from the backup itself (global/1262, see
// pg-database.ts). Whenever something is uncertain (name not found, the
// catalog unreadable, full_page_writes off, tablespaces) the caller restores
// everything and says why: never guess.
import { closeSync, existsSync, ftruncateSync, lstatSync, openSync } from 'node:fs';
import { lstat, mkdir, open, readFile, readdir, stat } from 'node:fs/promises';
import { makeStage, removeStage } from '../../../postgres/work-dir.js';
import { join } from 'node:path';
import type { PgBinaries } from '../../../postgres/binaries.js';
import { copyWalInto, type WalFilter } from '../../../postgres/data-copy.js';
import { copyFilesInto } from '../../../postgres/instance.js';
import { chownForServer } from '../../../postgres/os-user.js';
import { pgControldata } from '../../../postgres/programs.js';
import { formatBytes } from '../../../util/time.js';
import { FIRST_NORMAL_OBJECT_ID } from '../../../postgres/object-ids.js';
import { type PgDatabaseRow, parsePgDatabase } from './pg-database.js';
import { isSparseRelationFile, type RelationPlan } from './relation-plan.js';

/** Files of a left-out database that stay real copies (PostgreSQL reads them when the database is touched). */
export const KEEP_REAL = new Set(['PG_VERSION', 'pg_filenode.map']);

export interface SelectivePlan {
  database: string;
  /** OIDs named `database` in the backup's pg_database (dead rows included). */
  matched: number[];
  /** base/<oid> folders restored in full. */
  full: number[];
  /** base/<oid> folders whose files become sparse. */
  sparse: number[];
  /** base/<oid> folders no pg_database row names (kept in full, to be safe). */
  unknown: number[];
  /** OID → names seen for it (for notes). */
  names: Map<number, string[]>;
  /** Relation-level: inside the target database, the other user tables' files left sparse too (relation-plan.ts). */
  relations?: RelationPlan;
}

export type SelectiveDecision = { selective: true; plan: SelectivePlan } | { selective: false; reason: string };

/** Pure: which base/ folders to restore in full and which to leave sparse. */
export function planSelective(rows: readonly PgDatabaseRow[], database: string, baseOids: readonly number[], o: { relationLevel?: boolean } = {}): SelectiveDecision {
  const names = new Map<number, string[]>();
  for (const r of rows) names.set(r.oid, [...new Set([...(names.get(r.oid) ?? []), r.datname])]);
  const matched = [...new Set(rows.filter((r) => r.datname === database).map((r) => r.oid))].sort((a, b) => a - b);
  if (!matched.length) return { selective: false, reason: `database "${database}" is not in the backup's pg_database (created after the backup, or renamed)` };
  const full: number[] = [];
  const sparse: number[] = [];
  const unknown: number[] = [];
  for (const oid of [...baseOids].sort((a, b) => a - b)) {
    if (oid < FIRST_NORMAL_OBJECT_ID || matched.includes(oid)) full.push(oid);
    else if (!names.has(oid)) {
      unknown.push(oid);
      full.push(oid);
    } else sparse.push(oid);
  }
  if (!matched.some((o) => baseOids.includes(o))) return { selective: false, reason: `base/ of the backup has no folder for database "${database}" (OID ${matched.join(', ')})` };
  // With relation-level restore still to try, nothing to leave out at this level is not the end.
  if (!sparse.length && !o.relationLevel) return { selective: false, reason: 'the backup holds no other database to leave out' };
  return { selective: true, plan: { database, matched, full, sparse, unknown, names } };
}

// --- full_page_writes ----------------------------------------------------------

/** Pure: the last value a postgresql.conf-style text sets for `name` (case-insensitive), unquoted. */
export function confSetting(text: string, name: string): string | undefined {
  let value: string | undefined;
  const re = new RegExp(`^\\s*${name}\\s*(?:=\\s*|\\s+)('((?:[^']|'')*)'|[^\\s#]+)`, 'i');
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (m) value = m[2] !== undefined ? m[2].replace(/''/g, "'") : m[1];
  }
  return value;
}

/** Pure: is a boolean GUC value "off" (off, false, no, 0, and their unique prefixes)? */
export function isOff(value: string): boolean {
  return /^(of|off|f|fa|fal|fals|false|n|no|0)$/i.test(value.trim());
}

/**
 * Why replay could read an old page of a left-out database, or undefined when
 * full_page_writes is on everywhere we can see: postgresql.conf, then
 * postgresql.auto.conf (read last, so it wins), and the backup's pg_control
 * ("Latest checkpoint's full_page_writes", the value at its last checkpoint).
 */
export async function fullPageWritesProblem(dir: string, bin: PgBinaries | undefined): Promise<string | undefined> {
  let value: string | undefined;
  let from = '';
  for (const f of ['postgresql.conf', 'postgresql.auto.conf']) {
    const text = await readFile(join(dir, f), 'utf8').catch(() => undefined);
    const v = text === undefined ? undefined : confSetting(text, 'full_page_writes');
    if (v !== undefined) {
      value = v;
      from = f;
    }
  }
  if (value !== undefined && isOff(value)) return `full_page_writes = ${value} in the backup's ${from}`;
  if (bin && existsSync(join(dir, 'global', 'pg_control'))) {
    const cd = await pgControldata(bin, dir).catch(() => undefined);
    const fpw = cd?.["Latest checkpoint's full_page_writes"];
    if (fpw !== undefined && fpw !== 'on') return `the backup's pg_control says full_page_writes was ${fpw} at its last checkpoint`;
  }
  return undefined;
}

// --- plain backups ---------------------------------------------------------------

export interface StageStats {
  /** Bytes of regular files restored as real copies. */
  fullBytes: number;
  /** Apparent bytes of the sparse files (what was not written). */
  sparseBytes: number;
  sparseFiles: number;
  /** Of sparseBytes, what the target database's other tables account for (relation-level). */
  relationSparseBytes?: number;
}

/**
 * Sum of regular file sizes under a path (apparent sizes). A folder's entries are stat'ed synchronously, in one
 * turn of the event loop: a database folder holds thousands of files, and while locate's scan parses WAL beside
 * it, every awaited stat waited for a turn (a staging 8× slower measured so).
 */
export async function treeBytes(path: string): Promise<number> {
  const st = lstatSync(path);
  if (st.isFile()) return st.size;
  if (!st.isDirectory()) return 0;
  let n = 0;
  const folders: string[] = [];
  for (const e of await readdir(path)) {
    const s = lstatSync(join(path, e));
    if (s.isFile()) n += s.size;
    else if (s.isDirectory()) folders.push(join(path, e));
  }
  for (const f of folders) n += await treeBytes(f);
  return n;
}

/** An empty file extended to `size` bytes: holes only, nothing written (synchronously: see treeBytes). */
function createSparseSync(path: string, size: number, mode: number): void {
  const fd = openSync(path, 'w', mode);
  try {
    ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
}

/** An empty file extended to `size` bytes: holes only, nothing written. */
export async function createSparse(path: string, size: number, mode = 0o600): Promise<void> {
  const fh = await open(path, 'w', mode);
  try {
    await fh.truncate(size);
  } finally {
    await fh.close();
  }
}

/** Copy a folder, leaving the regular files `leaveOut` names as sparse files of the same size. */
async function sparseTree(from: string, to: string, stats: StageStats, leaveOut: (name: string) => boolean = (e) => !KEEP_REAL.has(e)): Promise<void> {
  const st = await stat(from);
  await mkdir(to, { mode: st.mode & 0o7777 });
  const copies: string[] = [];
  const folders: string[] = [];
  // one folder's entries in one turn of the event loop (see treeBytes)
  for (const e of await readdir(from)) {
    const src = join(from, e);
    const s = lstatSync(src);
    if (s.isDirectory()) folders.push(e);
    else if (s.isFile() && leaveOut(e)) {
      createSparseSync(join(to, e), s.size, s.mode & 0o7777);
      stats.sparseBytes += s.size;
      stats.sparseFiles++;
    } else {
      copies.push(src);
      if (s.isFile()) stats.fullBytes += s.size;
    }
  }
  await copyFilesInto(copies, to);
  for (const e of folders) await sparseTree(join(from, e), join(to, e), stats, leaveOut);
}

/** Numeric folders of base/ in a plain backup. */
export async function plainBaseOids(backupDir: string): Promise<number[]> {
  const out: number[] = [];
  for (const e of await readdir(join(backupDir, 'base')).catch(() => [] as string[])) if (/^\d+$/.test(e)) out.push(Number(e));
  return out;
}

/** Bytes a selective copy of a plain backup writes (for the disk preflight). */
export async function plainSelectiveBytes(backupDir: string, plan: SelectivePlan): Promise<number> {
  let n = 0;
  for (const e of await readdir(backupDir)) {
    if (e !== 'base') n += await treeBytes(join(backupDir, e));
  }
  for (const e of await readdir(join(backupDir, 'base'))) {
    if (/^\d+$/.test(e) && plan.sparse.includes(Number(e))) {
      for (const k of KEEP_REAL) n += (await stat(join(backupDir, 'base', e, k)).catch(() => ({ size: 0 }))).size;
    } else if (plan.relations && e === String(plan.relations.database)) {
      for (const f of await readdir(join(backupDir, 'base', e))) if (!isSparseRelationFile(f, plan.relations)) n += await treeBytes(join(backupDir, 'base', e, f));
    } else n += await treeBytes(join(backupDir, 'base', e));
  }
  return n;
}

/**
 * Lay out a plain backup as a data directory in a new folder under workDir:
 * everything copied (reflinks where possible) except the left-out databases'
 * files, which become sparse. Returns the data directory (adopt it with
 * TempInstance.fromDataDir(…, {copy: false})).
 */
export async function stagePlainSelective(backupDir: string, workDir: string, plan: SelectivePlan, o: { walKeep?: WalFilter } = {}): Promise<{ dataDir: string; stats: StageStats }> {
  const stage = await makeStage(workDir, 'selective');
  const data = join(stage, 'data');
  const stats: StageStats = { fullBytes: 0, sparseBytes: 0, sparseFiles: 0 };
  try {
    await mkdir(data, { mode: 0o700 });
    // What is copied whole goes in one `cp` per folder (a process per entry cost ~1 s on a data directory's ~25).
    // A snapshot's pg_wal: only the segments its crash recovery reads (a link is copied as one, followed by the instance).
    const walOnly = o.walKeep && (await lstat(join(backupDir, 'pg_wal')).catch(() => undefined))?.isDirectory() ? o.walKeep : undefined;
    const top = (await readdir(backupDir)).filter((e) => e !== 'base' && !(walOnly && e === 'pg_wal'));
    const baseSrc = join(backupDir, 'base');
    const bases = await readdir(baseSrc);
    const isSparseDb = (e: string) => /^\d+$/.test(e) && plan.sparse.includes(Number(e));
    const isRelationDb = (e: string) => !!plan.relations && e === String(plan.relations.database);
    const whole = bases.filter((e) => !isSparseDb(e) && !isRelationDb(e));
    const counted = Promise.all([...top.map((e) => join(backupDir, e)), ...whole.map((e) => join(baseSrc, e))].map(treeBytes));
    await copyFilesInto(top.map((e) => join(backupDir, e)), data);
    if (walOnly) await copyWalInto(join(backupDir, 'pg_wal'), join(data, 'pg_wal'), walOnly);
    await mkdir(join(data, 'base'), { mode: (await stat(baseSrc)).mode & 0o7777 });
    await copyFilesInto(whole.map((e) => join(baseSrc, e)), join(data, 'base'));
    for (const e of bases) {
      if (isSparseDb(e)) await sparseTree(join(baseSrc, e), join(data, 'base', e), stats);
      else if (isRelationDb(e)) {
        const rel = plan.relations!;
        const before = stats.sparseBytes;
        await sparseTree(join(baseSrc, e), join(data, 'base', e), stats, (f) => isSparseRelationFile(f, rel));
        stats.relationSparseBytes = (stats.relationSparseBytes ?? 0) + stats.sparseBytes - before;
      }
    }
    stats.fullBytes += (await counted).reduce((n, b) => n + b, 0) + (walOnly ? await treeBytes(join(data, 'pg_wal')) : 0);
    await chownForServer(stage);
  } catch (e) {
    removeStage(stage);
    throw e;
  }
  return { dataDir: data, stats };
}

// --- notes ------------------------------------------------------------------------

export function selectiveNote(plan: SelectivePlan, stats: StageStats, wholeBytes?: number): string {
  const label = (oid: number) => {
    const n = plan.names.get(oid);
    return n?.length ? `${oid} (${n.join('/')})` : `${oid}`;
  };
  const rel = plan.relations;
  const shown = rel ? rel.sparseTables.slice(0, 8).join(', ') + (rel.sparseTables.length > 8 ? ` and ${rel.sparseTables.length - 8} more` : '') : '';
  const parts = [
    `Selective restore for database "${plan.database}"${rel ? ' (relation-level)' : ''}: base/ ${plan.full.map(label).join(', ')} restored in full${rel ? ` except, in base/${rel.database}, the files of ${rel.sparseTables.length} other table(s) with their TOAST and indexes (${shown}): ${formatBytes(stats.relationSparseBytes ?? 0)} left sparse; catalogs, sequences and the lost tables with their TOAST and indexes are real` : ''}${plan.unknown.length ? ` (${plan.unknown.join(', ')} named by no pg_database row, kept to be safe)` : ''}`,
    ...(plan.sparse.length ? [`base/ ${plan.sparse.map(label).join(', ')} left sparse (their PG_VERSION and pg_filenode.map real)`] : []),
    `${stats.sparseFiles} sparse file(s): ${formatBytes(stats.fullBytes)} written, ${formatBytes(stats.sparseBytes)} saved${wholeBytes ? ` of ${formatBytes(wholeBytes)}` : ''}`,
    `what was left sparse is a placeholder in the temporary instance: do not read it there (autovacuum is off)`,
  ];
  return `${parts.join('; ')}.`;
}

/** Read and parse global/1262 from a data directory or probe folder; a reason string when it cannot be trusted. */
export async function readPgDatabase(dir: string, major: number): Promise<PgDatabaseRow[] | string> {
  const buf = await readFile(join(dir, 'global', '1262')).catch(() => undefined);
  if (!buf) return 'global/1262 (pg_database) is missing from the backup';
  try {
    return parsePgDatabase(buf, { major });
  } catch (e) {
    return `global/1262 (pg_database) could not be read with certainty: ${(e as Error).message}`;
  }
}

export async function hasTablespaces(dir: string): Promise<boolean> {
  return (await readdir(join(dir, 'pg_tblspc')).catch(() => [] as string[])).length > 0;
}
