// Relation-level selective restore, the inputs: the lost tables' database's
// own catalog, read from a plain backup's folder or out of base.tar[.gz]
// (only the members it needs: pg_filenode.map and the catalogs' files), and
// the decision whether relation-level restore applies at all.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TableName } from '../../../postgres/identifiers.js';
import { type BackupCatalog, type RelationFileReader, readBackupCatalog } from './pg-class.js';
import { planRelations, type RelationPlan, relationFile } from './relation-plan.js';
import type { SelectivePlan } from './plan.js';

/** Pure: a relation's main-fork segment files among `names`, in order (16390, 16390.1, …). */
export function mainSegments(names: readonly string[], filenode: number): string[] {
  const seg = (n: string) => (n.includes('.') ? Number(n.slice(n.indexOf('.') + 1)) : 0);
  return names.filter((n) => n === String(filenode) || n.startsWith(`${filenode}.`)).filter((n) => relationFile(n)?.fork === 'main').sort((a, b) => seg(a) - seg(b));
}

export async function concatSegments(dir: string, names: readonly string[], filenode: number): Promise<Buffer | undefined> {
  const segs = mainSegments(names, filenode);
  return segs.length ? Buffer.concat(await Promise.all(segs.map((s) => readFile(join(dir, s))))) : undefined;
}

/** The catalog of the database in `dbDir` (a plain backup's base/<oid>). */
export async function plainCatalog(dbDir: string): Promise<BackupCatalog> {
  const names = await readdir(dbDir);
  const read: RelationFileReader = (fn) => concatSegments(dbDir, names, fn);
  return readBackupCatalog(await readFile(join(dbDir, 'pg_filenode.map')).catch(() => undefined), read);
}

/**
 * Whether the database-level plan can go down to relations: exactly one
 * folder for the database, PostgreSQL ≥ 12, its catalog readable with
 * certainty, every lost table in it. The plan, or why not.
 */
export async function decideRelations(plan: SelectivePlan, baseOids: readonly number[], major: number, tables: readonly TableName[], catalog: (dboid: number) => Promise<BackupCatalog>): Promise<{ plan: RelationPlan } | { reason: string }> {
  const present = plan.matched.filter((o) => baseOids.includes(o));
  if (present.length !== 1) return { reason: `database "${plan.database}" has ${present.length} folders in the backup (base/${present.join(', base/')}): which one holds the tables is not certain` };
  if (major < 12) return { reason: `PostgreSQL ${major} keeps pg_class's oid in the tuple header; relation-level restore reads PostgreSQL 12 and later` };
  let cat: BackupCatalog;
  try {
    cat = await catalog(present[0]!);
  } catch (e) {
    return { reason: `the catalog of database "${plan.database}" in the backup could not be read with certainty: ${(e as Error).message}` };
  }
  const d = planRelations(cat, present[0]!, tables);
  return d.ok ? { plan: d.plan } : { reason: d.reason };
}
