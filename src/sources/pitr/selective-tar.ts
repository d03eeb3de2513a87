// Selective restore from a tar base backup: what planning needs read out of
// base.tar (the catalogs, by member name), the listing, the --exclude
// patterns, and the sparse placeholders for what was left out. The plan
// itself is shared with the other sources (materialize/selective/).
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { failure } from '../../errors.js';
import { FIRST_NORMAL_OBJECT_ID } from '../../postgres/object-ids.js';
import { chownForServer } from '../../postgres/os-user.js';
import { execClean, tail } from '../../postgres/run.js';
import { makeStage, removeStage } from '../../postgres/work-dir.js';
import { type BackupCatalog, type RelationFileReader, readBackupCatalog } from '../materialize/selective/pg-class.js';
import { concatSegments, mainSegments } from '../materialize/selective/relation-source.js';
import { isSparseRelationFile, type RelationPlan, relationFile } from '../materialize/selective/relation-plan.js';
import { createSparse, KEEP_REAL, type SelectivePlan, type StageStats } from '../materialize/selective/plan.js';
import type { BaseBackup } from './restore.js';

/**
 * Read the two members planning needs (PG_VERSION, global/1262) out of
 * base.tar[.gz] into a new folder; --occurrence makes tar stop as soon as
 * both are found instead of reading the whole archive. (pg_control, which
 * pg_basebackup writes last, and the configuration files are checked after
 * the extraction: see fillSparseFromTar.)
 */
export async function extractTarProbe(baseTar: string, workDir: string): Promise<string> {
  const dir = await makeStage(workDir, 'tarprobe');
  const members = ['PG_VERSION', 'global/1262'];
  const r = await execClean('tar', ['-xf', baseTar, '--occurrence=1', '-C', dir, ...members], { reject: false });
  if (r.exitCode !== 0) {
    const bad = String(r.stderr)
      .split('\n')
      .filter((l) => l.trim() && !/Not found in archive|Exiting with failure status due to previous errors/.test(l));
    if (bad.length) {
      removeStage(dir);
      throw failure('BACKUP_EXTRACT_FAILED', `Reading ${baseTar} failed.`, { hint: 'The archive may be truncated; check it with tar -tzf.', details: tail(bad.join('\n')) });
    }
  }
  return dir;
}

export interface TarMember {
  path: string;
  size: number;
}

/** Pure: regular files and their sizes from `tar -tvf` output (GNU tar). */
export function parseTarListing(text: string): TarMember[] {
  const out: TarMember[] = [];
  for (const line of text.split('\n')) {
    // -rw------- postgres/postgres 8192 2026-11-25 01:28 base/16385/1259
    const m = /^-\S*\s+\S+\s+(\d+)\s+\d{4}-\d\d-\d\d\s+\d\d:\d\d(?::\d\d)?\s+(.+)$/.exec(line);
    if (m) out.push({ path: m[2]!.replace(/^\.\//, ''), size: Number(m[1]) });
  }
  return out;
}

/** Pure: regular files and sizes from a backup_manifest (main tablespace paths). */
export function manifestFiles(text: string): TarMember[] {
  const j = JSON.parse(text) as { Files?: { Path?: string; Size?: number }[] };
  return (j.Files ?? []).filter((f) => typeof f.Path === 'string' && typeof f.Size === 'number').map((f) => ({ path: f.Path!, size: f.Size! }));
}

/** Member sizes of base.tar: from backup_manifest next to it when present (no extra pass over the archive), else `tar -tvf`. */
export async function tarMembers(b: BaseBackup): Promise<{ members: TarMember[]; from: string }> {
  const manifest = join(b.path, 'backup_manifest');
  if (existsSync(manifest)) {
    try {
      const files = manifestFiles(await readFile(manifest, 'utf8'));
      if (files.some((f) => f.path === 'global/1262')) return { members: files.filter((f) => !f.path.startsWith('pg_tblspc/')), from: 'backup_manifest' };
    } catch {
      /* fall through to the archive itself */
    }
  }
  const r = await execClean('tar', ['-tvf', b.baseTar!], { reject: false, maxBuffer: 1024 * 1024 * 1024 });
  if (r.exitCode !== 0) throw failure('BACKUP_EXTRACT_FAILED', `Listing ${b.baseTar} failed.`, { hint: 'The archive may be truncated; check it with tar -tzf.', details: tail(String(r.stderr)) });
  return { members: parseTarListing(String(r.stdout)), from: 'tar -tvf' };
}

/** Numeric base/<oid> folders named by a listing. */
export function listedBaseOids(members: readonly TarMember[]): number[] {
  const s = new Set<number>();
  for (const m of members) {
    const x = /^base\/(\d+)\//.exec(m.path);
    if (x) s.add(Number(x[1]));
  }
  return [...s];
}

/** Pure: is this member one of a left-out database's relation files (left sparse)? */
export function isSparseMember(path: string, sparse: ReadonlySet<number>): boolean {
  const m = /^base\/(\d+)\/(.+)$/.exec(path);
  if (!m || !sparse.has(Number(m[1]))) return false;
  const rest = m[2]!;
  return /^[0-9]/.test(rest) && !KEEP_REAL.has(rest);
}

/**
 * tar --exclude patterns for the left-out databases: their relation files
 * (names start with a digit: 16390, 16390.1, 16390_fsm…), so PG_VERSION and
 * pg_filenode.map are still extracted.
 */
export function tarExcludes(plan: SelectivePlan, relationList?: string): string[] {
  // Relation-level: the exact member names (written to a file: a database may hold thousands), matched literally.
  const relations = relationList ? ['--no-wildcards', `--exclude-from=${relationList}`] : [];
  return ['--anchored', ...plan.sparse.map((oid) => `--exclude=base/${oid}/[0-9]*`), ...relations];
}

/** Pure: is this member one of the target database's relation files left sparse (relation-level)? */
export function isSparseRelationMember(path: string, relations: RelationPlan | undefined): boolean {
  if (!relations) return false;
  const prefix = `base/${relations.database}/`;
  return path.startsWith(prefix) && isSparseRelationFile(path.slice(prefix.length), relations);
}

/** Bytes a selective extraction writes, and the sparse files to create afterwards (`relation`: those of the target database). */
export function tarSplit(members: readonly TarMember[], plan: SelectivePlan): { fullBytes: number; sparse: TarMember[]; relation: TarMember[] } {
  const sparseSet = new Set(plan.sparse);
  let fullBytes = 0;
  const sparse: TarMember[] = [];
  const relation: TarMember[] = [];
  for (const m of members) {
    if (isSparseMember(m.path, sparseSet)) sparse.push(m);
    else if (isSparseRelationMember(m.path, plan.relations)) {
      sparse.push(m);
      relation.push(m);
    } else fullBytes += m.size;
  }
  return { fullBytes, sparse, relation };
}

/**
 * Undo a selective extraction: extract the left-out databases' relation files
 * (and, relation-level, the listed member names in `relationList`) over their
 * sparse placeholders (when full_page_writes turns out to be off).
 */
export async function fillSparseFromTar(baseTar: string, dataDir: string, plan: SelectivePlan, relationList?: string): Promise<void> {
  const r = await execClean('tar', ['--anchored', '--wildcards', '-xf', baseTar, '-C', dataDir, ...plan.sparse.map((oid) => `base/${oid}/[0-9]*`), ...(relationList ? ['-T', relationList] : [])], { reject: false });
  if (r.exitCode !== 0) throw failure('BACKUP_EXTRACT_FAILED', `Extracting ${baseTar} failed.`, { hint: 'The archive may be truncated; check it with tar -tzf.', details: tail(String(r.stderr)) });
  await chownForServer(join(dataDir, 'base'));
}

/** After a tar extraction with tarExcludes(): the left-out files, as sparse files of their listed size. */
export async function createSparseMembers(dataDir: string, sparse: readonly TarMember[]): Promise<StageStats> {
  const stats: StageStats = { fullBytes: 0, sparseBytes: 0, sparseFiles: 0 };
  for (const m of sparse) {
    const p = join(dataDir, m.path);
    const parent = p.slice(0, p.lastIndexOf('/'));
    if (!existsSync(parent)) await mkdir(parent, { recursive: true, mode: 0o700 });
    await createSparse(p, m.size);
    stats.sparseBytes += m.size;
    stats.sparseFiles++;
  }
  return stats;
}

/** Extract the named members of base.tar (names from its listing) into `dir`; --occurrence stops once all are found. */
async function extractMembers(baseTar: string, dir: string, names: readonly string[]): Promise<void> {
  if (!names.length) return;
  const list = join(dir, '.members');
  await writeFile(list, `${names.join('\n')}\n`);
  const r = await execClean('tar', ['-xf', baseTar, '--occurrence=1', '-C', dir, '-T', list], { reject: false });
  if (r.exitCode !== 0) throw failure('BACKUP_EXTRACT_FAILED', `Reading ${baseTar} failed.`, { hint: 'The archive may be truncated; check it with tar -tzf.', details: tail(String(r.stderr)) });
}

/**
 * The catalog of database `dboid` out of base.tar: one pass for its
 * pg_filenode.map and every system relation file (filenodes below 16384,
 * where initdb puts the catalogs), another only for a catalog rewritten since
 * (VACUUM FULL gives it a new filenode).
 */
export async function tarCatalog(baseTar: string, members: readonly TarMember[], dboid: number, workDir: string): Promise<BackupCatalog> {
  const prefix = `base/${dboid}/`;
  const names = members.filter((m) => m.path.startsWith(prefix)).map((m) => m.path.slice(prefix.length)).filter((n) => !n.includes('/'));
  const dir = await makeStage(workDir, 'catalog');
  try {
    const first = names.filter((n) => n === 'pg_filenode.map' || (relationFile(n)?.fork === 'main' && relationFile(n)!.filenode < FIRST_NORMAL_OBJECT_ID));
    await extractMembers(baseTar, dir, first.map((n) => prefix + n));
    const have = new Set(first);
    const dbDir = join(dir, prefix);
    const read: RelationFileReader = async (fn) => {
      const missing = mainSegments(names, fn).filter((n) => !have.has(n));
      await extractMembers(baseTar, dir, missing.map((n) => prefix + n));
      for (const n of missing) have.add(n);
      return concatSegments(dbDir, names, fn);
    };
    return await readBackupCatalog(have.has('pg_filenode.map') ? await readFile(join(dbDir, 'pg_filenode.map')) : undefined, read);
  } finally {
    removeStage(dir);
  }
}

