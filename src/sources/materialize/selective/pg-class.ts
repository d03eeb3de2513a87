// A database's own catalog, read from a base backup's files without a
// running server (heap-reader.ts): pg_class through pg_filenode.map (pg_class
// is a mapped catalog), then pg_namespace, pg_index and pg_inherits through
// pg_class's relfilenode column. Every tuple version (dead ones included) is
// kept: relation-plan.ts decides on all of them. PostgreSQL ≥ 12 only (before
// 12 oid is a header column and every offset below moves).
//
// Fixed columns (src/include/catalog/pg_class.h, pg_namespace.h, pg_index.h,
// pg_inherits.h), all NOT NULL, so their offsets from t_hoff never move:
//   pg_class: oid@0 relname@4 relnamespace@68 relfilenode@88 reltablespace@92
//     reltoastrelid@108 relpersistence@114 relkind@115
//   pg_namespace: oid@0 nspname@4   pg_index: indexrelid@0 indrelid@4
//   pg_inherits: inhrelid@0 inhparent@4
import { HeapParseError, heapTuples, needColumns, readName } from './heap-reader.js';

export const PG_CLASS_OID = 1259;
const PG_NAMESPACE_OID = 2615;
const PG_INDEX_OID = 2610;
const PG_INHERITS_OID = 2611;
/** relmapper.c: RELMAPPER_FILEMAGIC and MAX_MAPPINGS (62 up to 15, 64 since 16). */
const RELMAP_MAGIC = 0x592717;
const RELMAP_MAX = 64;

export interface ClassRow {
  oid: number;
  relname: string;
  relnamespace: number;
  relfilenode: number;
  reltablespace: number;
  reltoastrelid: number;
  relpersistence: string;
  relkind: string;
}

export interface BackupCatalog {
  /** mapped catalog OID → filenode (pg_filenode.map). */
  mapped: Map<number, number>;
  classes: ClassRow[];
  namespaces: { oid: number; nspname: string }[];
  indexes: { indexrelid: number; indrelid: number }[];
  inherits: { inhrelid: number; inhparent: number }[];
}

/** Pure: pg_filenode.map (magic, num_mappings, then (oid, filenode) pairs). */
export function parseFilenodeMap(buf: Buffer): Map<number, number> {
  if (buf.length < 8) throw new HeapParseError(`pg_filenode.map is ${buf.length} bytes`);
  const magic = buf.readInt32LE(0);
  if (magic !== RELMAP_MAGIC) throw new HeapParseError(`pg_filenode.map has magic 0x${(magic >>> 0).toString(16)}, expected 0x${RELMAP_MAGIC.toString(16)}`);
  const n = buf.readInt32LE(4);
  if (n < 1 || n > RELMAP_MAX || 8 + n * 8 > buf.length) throw new HeapParseError(`pg_filenode.map says ${n} mappings`);
  const out = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const oid = buf.readUInt32LE(8 + i * 8);
    const fn = buf.readUInt32LE(12 + i * 8);
    if (!oid || !fn) throw new HeapParseError(`pg_filenode.map mapping ${i + 1} is (${oid}, ${fn})`);
    out.set(oid, fn);
  }
  return out;
}

/** Pure: every pg_class row (live or dead). */
export function parsePgClass(file: Buffer): ClassRow[] {
  const rows: ClassRow[] = [];
  for (const t of heapTuples(file, { what: 'pg_class' })) {
    needColumns(t, 116, 'pg_class fixed columns');
    const d = t.tuple.subarray(t.hoff);
    const row: ClassRow = {
      oid: d.readUInt32LE(0),
      relname: readName(t, t.hoff + 4, 'relname'),
      relnamespace: d.readUInt32LE(68),
      relfilenode: d.readUInt32LE(88),
      reltablespace: d.readUInt32LE(92),
      reltoastrelid: d.readUInt32LE(108),
      relpersistence: String.fromCharCode(d[114]!),
      relkind: String.fromCharCode(d[115]!),
    };
    if (!row.oid || !/^[pltu]$/.test(row.relpersistence) || !/^[rivStcfmpI]$/.test(row.relkind)) {
      throw new HeapParseError(`${t.at}: implausible pg_class row (oid ${row.oid}, relpersistence ${JSON.stringify(row.relpersistence)}, relkind ${JSON.stringify(row.relkind)})`);
    }
    rows.push(row);
  }
  if (!rows.some((r) => r.oid === PG_CLASS_OID && r.relname === 'pg_class')) throw new HeapParseError('pg_class does not list itself: this is not pg_class as expected');
  return rows;
}

/** Pure: rows of two leading oid columns (pg_index, pg_inherits). */
function oidPairs(file: Buffer, what: string): [number, number][] {
  return heapTuples(file, { what }).map((t) => {
    needColumns(t, 8, `${what} fixed columns`);
    const pair: [number, number] = [t.tuple.readUInt32LE(t.hoff), t.tuple.readUInt32LE(t.hoff + 4)];
    if (!pair[0] || !pair[1]) throw new HeapParseError(`${t.at}: ${what} row (${pair.join(', ')})`);
    return pair;
  });
}

/** Pure: every pg_namespace row (live or dead). */
export function parsePgNamespace(file: Buffer): { oid: number; nspname: string }[] {
  const rows = heapTuples(file, { what: 'pg_namespace' }).map((t) => {
    needColumns(t, 4, 'pg_namespace oid');
    return { oid: t.tuple.readUInt32LE(t.hoff), nspname: readName(t, t.hoff + 4, 'nspname') };
  });
  if (!rows.some((r) => r.nspname === 'pg_catalog' && r.oid === 11)) throw new HeapParseError('pg_namespace has no pg_catalog (11): this is not pg_namespace as expected');
  return rows;
}

/** Reads one relation's main fork (all its 1 GB segments, concatenated) by filenode; undefined when it is absent. */
export type RelationFileReader = (filenode: number) => Promise<Buffer | undefined>;

/** Every filenode pg_class gives a catalog (all versions): a VACUUM FULL leaves an old and a new one. */
function filenodesOf(classes: readonly ClassRow[], oid: number): number[] {
  return [...new Set(classes.filter((c) => c.oid === oid && c.relfilenode).map((c) => c.relfilenode))];
}

/** Rows of a catalog from every file pg_class names for it (old files of a rewritten catalog are gone or hold the same rows). */
async function catalogFiles(read: RelationFileReader, classes: readonly ClassRow[], oid: number, name: string): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const fn of filenodesOf(classes, oid)) {
    const b = await read(fn);
    if (b) out.push(b);
  }
  if (!out.length) throw new HeapParseError(`${name} (OID ${oid}) has no file in the backup (filenodes ${filenodesOf(classes, oid).join(', ') || 'none'})`);
  return out;
}

/** Read a database's catalog from its backup folder: throws HeapParseError when anything is not as expected. */
export async function readBackupCatalog(mapFile: Buffer | undefined, read: RelationFileReader): Promise<BackupCatalog> {
  if (!mapFile) throw new HeapParseError('pg_filenode.map is missing');
  const mapped = parseFilenodeMap(mapFile);
  const classFn = mapped.get(PG_CLASS_OID);
  if (!classFn) throw new HeapParseError('pg_filenode.map does not map pg_class (1259)');
  const classFile = await read(classFn);
  if (!classFile) throw new HeapParseError(`pg_class's file ${classFn} is missing`);
  const classes = parsePgClass(classFile);
  const namespaces = (await catalogFiles(read, classes, PG_NAMESPACE_OID, 'pg_namespace')).flatMap((f) => parsePgNamespace(f));
  const indexes = (await catalogFiles(read, classes, PG_INDEX_OID, 'pg_index')).flatMap((f) => oidPairs(f, 'pg_index').map(([indexrelid, indrelid]) => ({ indexrelid, indrelid })));
  const inherits = (await catalogFiles(read, classes, PG_INHERITS_OID, 'pg_inherits')).flatMap((f) => (f.length ? oidPairs(f, 'pg_inherits') : []).map(([inhrelid, inhparent]) => ({ inhrelid, inhparent })));
  return { mapped, classes, namespaces, indexes, inherits };
}
