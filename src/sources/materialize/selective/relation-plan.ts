// Relation-level selective restore, the plan (pure): inside the lost tables'
// database, which relation files may be left sparse. A file is sparse only
// when it certainly belongs to an ordinary user table that is not lost (every
// tuple version of it in the backup's pg_class says so), or to that table's
// TOAST table or the indexes of either; everything else stays real: catalogs,
// the lost tables with their TOAST and indexes, sequences, materialized
// views, anything in an inheritance tree or partitioned, temporary or in a
// tablespace, unknown namespaces, files no tuple names, and any filenode also
// named by a relation that stays real. When a lost table is not in the
// backup's pg_class, or is not a plain table there, the caller falls back to
// database-level selective restore: never guess.
import { FIRST_NORMAL_OBJECT_ID } from '../../../postgres/object-ids.js';
import type { TableName } from '../../../postgres/identifiers.js';
import type { BackupCatalog, ClassRow } from './pg-class.js';

const SYSTEM_SCHEMAS = new Set(['pg_catalog', 'pg_toast', 'information_schema']);
const isSystemSchema = (n: string) => SYSTEM_SCHEMAS.has(n) || n.startsWith('pg_temp_') || n.startsWith('pg_toast_temp_');

export interface RelationPlan {
  /** The database's OID (its base/<oid> folder). */
  database: number;
  /** Filenodes whose files (every fork but _init, every segment) are left sparse. */
  sparse: ReadonlySet<number>;
  /** schema.table of the user tables left sparse (with their TOAST and indexes). */
  sparseTables: string[];
  /** OIDs (in the backup) of every relation that matched a lost table's name. */
  lost: number[];
}

export type RelationDecision = { ok: true; plan: RelationPlan } | { ok: false; reason: string };

const KIND_NAMES: Record<string, string> = { p: 'partitioned table', v: 'view', m: 'materialized view', f: 'foreign table', S: 'sequence', i: 'index', t: 'TOAST table', c: 'composite type', I: 'partitioned index' };

/** Pure: which filenodes of database `database` to leave sparse when `tables` are the lost ones. */
export function planRelations(cat: BackupCatalog, database: number, tables: readonly TableName[]): RelationDecision {
  const nsNames = new Map<number, Set<string>>();
  for (const n of cat.namespaces) nsNames.set(n.oid, new Set([...(nsNames.get(n.oid) ?? []), n.nspname]));
  const byOid = new Map<number, ClassRow[]>();
  for (const c of cat.classes) byOid.set(c.oid, [...(byOid.get(c.oid) ?? []), c]);
  const schemaOf = (c: ClassRow) => [...(nsNames.get(c.relnamespace) ?? [])];

  // The lost tables: every relation any version of which carries the name (a renamed or re-created table: all of them).
  const lost = new Set<number>();
  for (const t of tables) {
    const hits = cat.classes.filter((c) => c.relname === t.name && (t.schema === undefined || schemaOf(c).includes(t.schema)));
    const label = `${t.schema ?? '(any schema)'}.${t.name}`;
    if (!hits.length) return { ok: false, reason: `table ${label} is not in the backup's pg_class (created or renamed after the backup)` };
    const odd = hits.find((c) => c.relkind !== 'r');
    if (odd) return { ok: false, reason: `${label} is a ${KIND_NAMES[odd.relkind] ?? `relation of kind ${odd.relkind}`} in the backup; relation-level restore leaves only plain tables out` };
    for (const c of hits) lost.add(c.oid);
  }
  const inherits = new Set(cat.inherits.flatMap((i) => [i.inhrelid, i.inhparent]));

  // Ordinary user tables not lost: every version plain, permanent or unlogged, in the default tablespace, in a known user schema.
  const userTable = (oid: number) =>
    oid >= FIRST_NORMAL_OBJECT_ID &&
    !lost.has(oid) &&
    !inherits.has(oid) &&
    byOid.get(oid)!.every((c) => c.relkind === 'r' && c.relpersistence !== 't' && c.reltablespace === 0 && schemaOf(c).length > 0 && !schemaOf(c).some(isSystemSchema));
  const tablesOut = new Set([...byOid.keys()].filter(userTable));

  // Their TOAST tables: only when no relation that stays names the same one.
  const toastOwners = new Map<number, Set<number>>();
  for (const c of cat.classes) if (c.reltoastrelid) toastOwners.set(c.reltoastrelid, new Set([...(toastOwners.get(c.reltoastrelid) ?? []), c.oid]));
  const toastOut = new Set<number>();
  for (const [toast, owners] of toastOwners) {
    if ([...owners].every((o) => tablesOut.has(o)) && (byOid.get(toast) ?? []).every((c) => c.relkind === 't') && byOid.has(toast)) toastOut.add(toast);
  }
  // The indexes of both: only when every pg_index version points at a relation left out.
  const indexOn = new Map<number, Set<number>>();
  for (const i of cat.indexes) indexOn.set(i.indexrelid, new Set([...(indexOn.get(i.indexrelid) ?? []), i.indrelid]));
  const indexesOut = new Set<number>();
  for (const [index, on] of indexOn) {
    if ([...on].every((r) => tablesOut.has(r) || toastOut.has(r)) && byOid.has(index) && byOid.get(index)!.every((c) => c.relkind === 'i')) indexesOut.add(index);
  }

  const out = new Set([...tablesOut, ...toastOut, ...indexesOut]);
  const keep = new Set<number>(cat.mapped.values());
  const candidates = new Set<number>();
  for (const c of cat.classes) {
    if (!c.relfilenode) continue;
    if (out.has(c.oid)) candidates.add(c.relfilenode);
    else keep.add(c.relfilenode);
  }
  const sparse = new Set([...candidates].filter((fn) => fn >= FIRST_NORMAL_OBJECT_ID && !keep.has(fn)));
  if (!sparse.size) return { ok: false, reason: 'the database holds no other user table to leave out' };
  const sparseTables = [...tablesOut].map((oid) => {
    const c = byOid.get(oid)!.at(-1)!;
    return `${schemaOf(c)[0]}.${c.relname}`;
  });
  return { ok: true, plan: { database, sparse, sparseTables: sparseTables.sort(), lost: [...lost].sort((a, b) => a - b) } };
}

/** Pure: a relation file's name in a database folder (16390, 16390.1, 16390_fsm, 16390_vm.2, 16390_init) → filenode and fork. */
export function relationFile(name: string): { filenode: number; fork: 'main' | 'fsm' | 'vm' | 'init' } | undefined {
  const m = /^(\d+)(?:_(fsm|vm|init))?(?:\.\d+)?$/.exec(name);
  return m ? { filenode: Number(m[1]), fork: (m[2] as 'fsm' | 'vm' | 'init' | undefined) ?? 'main' } : undefined;
}

/** Pure: is this file of the plan's database left sparse? (Unlogged tables' _init forks stay real: end of recovery copies them.) */
export function isSparseRelationFile(name: string, plan: RelationPlan): boolean {
  const f = relationFile(name);
  return !!f && f.fork !== 'init' && plan.sparse.has(f.filenode);
}

/**
 * Below this many bytes left out, the relation level is not the default:
 * staging a database file by file cost ~1.5 s more than copying its folder
 * whole when it left ~30 MB out (the lab, 1 M lost rows), and saved ~9 s per
 * GB left out (bench/results/pitr-selective.md); the crossover is near 170 MB.
 */
export const RELATION_LEVEL_MIN_BYTES = 256 * 1024 ** 2;

/** Pure: bytes of a database folder's files (name, size) that the plan leaves sparse. */
export function relationSparseBytes(files: readonly { name: string; size: number }[], plan: RelationPlan): number {
  return files.reduce((n, f) => n + (isSparseRelationFile(f.name, plan) ? f.size : 0), 0);
}
