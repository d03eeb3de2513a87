// Selective restore, the decision shared by every source that lays out a
// data directory from files (a base backup, a snapshot): may the other
// databases be left sparse, and, inside the lost tables' database, the other
// tables' files too? The plan, or the reason why not (the caller then copies
// everything and says why).
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { PgBinaries } from '../../../postgres/binaries.js';
import type { TempInstance } from '../../../postgres/instance.js';
import type { SelectiveLevel } from '../../types.js';
import { formatBytes } from '../../../util/time.js';
import type { MaterializeRequest } from '../../types.js';
import type { BackupCatalog } from './pg-class.js';
import { fullPageWritesProblem, hasTablespaces, planSelective, plainBaseOids, readPgDatabase, type SelectiveDecision, type SelectivePlan } from './plan.js';
import { RELATION_LEVEL_MIN_BYTES, type RelationPlan, relationSparseBytes } from './relation-plan.js';
import { lostRelationsLeftSparse } from './relation-check.js';
import { decideRelations, plainCatalog } from './relation-source.js';

export const fpwReason = (p: string) => `${p}: replay could read old pages of what selective restore leaves out`;

/** For progress lines: what is restored and what left sparse. */
export function scopeText(plan: SelectivePlan): string {
  const dbs = `databases ${plan.full.join(', ')} in full${plan.sparse.length ? `, ${plan.sparse.join(', ')} sparse` : ''}`;
  return plan.relations ? `${dbs}, but in ${plan.relations.database} the files of ${plan.relations.sparseTables.length} other table(s) sparse` : dbs;
}

/** Can this backup be restored selectively for `database`? The plan, or why not. `checkFpw: false` leaves the full_page_writes check to the caller. */
export async function decideSelective(dir: string, baseOids: number[], major: number, bin: PgBinaries, database: string, checkFpw = true, relationLevel = false): Promise<SelectiveDecision> {
  const rows = await readPgDatabase(dir, major);
  if (typeof rows === 'string') return { selective: false, reason: rows };
  const fpw = checkFpw ? await fullPageWritesProblem(dir, bin) : undefined;
  if (fpw) return { selective: false, reason: fpwReason(fpw) };
  return planSelective(rows, database, baseOids, { relationLevel });
}

/** Take a database-level plan down to relations when that is certain and pays; else keep it (with a note), or give up when it leaves nothing out. */
export async function withRelations(
  d: SelectiveDecision,
  baseOids: number[],
  major: number,
  req: MaterializeRequest,
  catalog: (dboid: number) => Promise<BackupCatalog>,
  files: (dboid: number) => Promise<{ name: string; size: number }[]>,
  notes: string[],
): Promise<SelectiveDecision> {
  if (!d.selective) return d;
  const r = await relationLevel(d.plan, baseOids, major, req, catalog, files);
  if (typeof r !== 'string') return { selective: true, plan: { ...d.plan, relations: r } };
  if (!d.plan.sparse.length) return { selective: false, reason: `the backup holds no other database to leave out, and relation-level restore does not apply: ${r}` };
  notes.push(`Relation-level restore not used (database-level instead): ${r}.`);
  return d;
}

/**
 * The relation plan, or why not. Asked for by name (--selective relations):
 * whenever it is certain. By default only when it leaves enough out to pay
 * for itself, and the backup's catalog is not even read when the whole
 * database folder is smaller than that.
 */
async function relationLevel(
  plan: SelectivePlan,
  baseOids: number[],
  major: number,
  req: MaterializeRequest,
  catalog: (dboid: number) => Promise<BackupCatalog>,
  files: (dboid: number) => Promise<{ name: string; size: number }[]>,
): Promise<RelationPlan | string> {
  const byDefault = req.selective !== 'relations';
  const tooLittle = (what: string, bytes: number) => `${what} only ${formatBytes(bytes)}, below ${formatBytes(RELATION_LEVEL_MIN_BYTES)}, where staging file by file costs more than it saves (--selective relations asks for it anyway)`;
  const listed = new Map(await Promise.all(plan.matched.filter((o) => baseOids.includes(o)).map(async (o) => [o, await files(o)] as const)));
  const folderBytes = [...listed.values()].flat().reduce((n, f) => n + f.size, 0);
  if (byDefault && folderBytes < RELATION_LEVEL_MIN_BYTES) return tooLittle("the database's folder holds", folderBytes);
  const r = await decideRelations(plan, baseOids, major, req.tables, catalog);
  if ('reason' in r) return r.reason;
  const left = relationSparseBytes(listed.get(r.plan.database) ?? [], r.plan);
  return byDefault && left < RELATION_LEVEL_MIN_BYTES ? tooLittle('it would leave out', left) : r.plan;
}

/** Regular files directly in a folder, with their sizes. */
export async function folderFiles(dir: string): Promise<{ name: string; size: number }[]> {
  // stat'ed all at once: a database folder holds thousands of files, and this is on the critical path
  const files = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile());
  return Promise.all(files.map(async (e) => ({ name: e.name, size: (await stat(join(dir, e.name))).size })));
}


/**
 * After recovery, before anything reads the lost tables: does the plan still hold at the recovery point?
 * undefined when it does; else the level to lay out again at, and the note saying why. The database must
 * have an OID that was restored in full (a rename or re-create after the copy was taken would leave it
 * sparse), and the lost tables with their TOAST and indexes must live in files that were restored.
 */
export async function selectiveStillHolds(inst: TempInstance, database: string, tables: MaterializeRequest['tables'], plan: SelectivePlan, from: string): Promise<{ level: SelectiveLevel; note: string } | undefined> {
  const r = await inst.query<{ oid: string }>('select oid::text as oid from pg_database where datname = $1', [database]);
  const now = r.rows.map((x) => Number(x.oid));
  if (now.length && !now.some((o) => plan.full.includes(o))) {
    return { level: 'off', note: `Selective restore was retried as a full restore: at the recovery point database "${database}" has OID ${now.join(', ')}, which ${from}'s pg_database did not give that name.` };
  }
  const sparseLost = plan.relations ? await lostRelationsLeftSparse(inst.connParams(database), tables, plan.relations) : [];
  if (sparseLost.length) {
    return { level: 'database', note: `Relation-level restore was retried at the database level: at the recovery point ${sparseLost.join(', ')} use${sparseLost.length === 1 ? 's' : ''} a file that was left sparse.` };
  }
  return undefined;
}

/** A data directory in files (a plain base backup, a snapshot): the plan down to relations when asked and certain, or why not. */
export async function decidePlain(dir: string, bin: PgBinaries, req: MaterializeRequest, relations: boolean, notes: string[], what: 'backup' | 'snapshot'): Promise<SelectiveDecision> {
  const baseOids = await plainBaseOids(dir);
  const d: SelectiveDecision = (await hasTablespaces(dir))
    ? { selective: false, reason: `the backup has tablespaces (pg_tblspc), which selective restore does not handle` }
    : await decideSelective(dir, baseOids, bin.major, bin, req.database, true, relations);
  const added = notes.length;
  const out = relations ? await withRelations(d, baseOids, bin.major, req, (oid) => plainCatalog(join(dir, 'base', String(oid))), (oid) => folderFiles(join(dir, 'base', String(oid))), notes) : d;
  if (what === 'backup') return out;
  // the reasons are worded for a base backup: name what was read
  const say = (t: string) => t.replace(/\bthe backup\b/g, `the ${what}`).replace(/\bbackup's\b/g, `${what}'s`);
  for (let i = added; i < notes.length; i++) notes[i] = say(notes[i]!);
  return out.selective ? out : { selective: false, reason: say(out.reason) };
}
