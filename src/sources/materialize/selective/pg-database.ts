// Reading pg_database (global/1262) straight from a base backup's heap file
// (heap-reader.ts), without a running server: which OID each database name
// had when the backup was taken. Used by selective restore to know which
// base/<oid>/ folders to restore in full. Dead rows are returned too.
//
// PostgreSQL ≥ 12: oid (int4) is the first column, datname (NameData, 64
// bytes, NUL-padded) the second. Before 12, oid is a system column stored at
// t_hoff − 4 (HEAP_HASOID) and datname is the first column.
import { HeapParseError, heapTuples, readName } from './heap-reader.js';

const HEAP_HASOID_OLD = 0x0008;

export interface PgDatabaseRow {
  oid: number;
  datname: string;
  /** Block number and line pointer (1-based), for messages. */
  block: number;
  item: number;
}

/** Every database row (live or dead) in a pg_database heap file. `major`: the cluster's PostgreSQL major version. */
export function parsePgDatabase(file: Buffer, o: { major: number; blockSize?: number }): PgDatabaseRow[] {
  const oidInHeader = o.major < 12;
  const rows: PgDatabaseRow[] = [];
  for (const t of heapTuples(file, { what: 'pg_database', blockSize: o.blockSize })) {
    let oid: number;
    let nameAt: number;
    if (oidInHeader) {
      if (!(t.infomask & HEAP_HASOID_OLD)) throw new HeapParseError(`${t.at}: tuple has no OID (PostgreSQL ${o.major} stores it in the header)`);
      oid = t.tuple.readUInt32LE(t.hoff - 4);
      nameAt = t.hoff;
    } else {
      if (t.hoff + 4 > t.tuple.length) throw new HeapParseError(`${t.at}: tuple too short for its oid`);
      oid = t.tuple.readUInt32LE(t.hoff);
      nameAt = t.hoff + 4;
    }
    const datname = readName(t, nameAt, 'datname');
    if (oid === 0) throw new HeapParseError(`${t.at}: implausible row (oid 0, datname ${JSON.stringify(datname)})`);
    rows.push({ oid, datname, block: t.block, item: t.item });
  }
  if (!rows.length) throw new HeapParseError('pg_database holds no rows');
  if (!rows.some((r) => r.datname === 'template1')) throw new HeapParseError('template1 is not among the rows: this is not pg_database as expected');
  return rows;
}
