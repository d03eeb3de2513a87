// Reading pg_database (global/1262) straight from a base backup's heap file,
// without a running server: which OID each database name had when the backup
// was taken. Used by selective restore to know which base/<oid>/ folders to
// restore in full. Every tuple with a normal line pointer is returned, dead
// ones included (a dropped-and-recreated or renamed database can leave them):
// for selective restore, restoring more is harmless and restoring less is not.
//
// Layout (src/include/storage/bufpage.h, itemid.h, access/htup_details.h):
//   page header 24 bytes: pd_lsn(8) pd_checksum(2) pd_flags(2) pd_lower(2)
//     pd_upper(2) pd_special(2) pd_pagesize_version(2) pd_prune_xid(4);
//   line pointers from byte 24 to pd_lower, 4 bytes each (little-endian
//     bitfields): lp_off 15 bits, lp_flags 2 bits, lp_len 15 bits;
//   tuple header: t_infomask at 20, t_hoff at 22; data from t_hoff.
// PostgreSQL ≥ 12: oid (int4) is the first column, datname (NameData, 64
// bytes, NUL-padded) the second. Before 12, oid is a system column stored at
// t_hoff − 4 (HEAP_HASOID) and datname is the first column.
// Anything that does not look exactly like this throws: the caller then
// restores everything instead of guessing.

const PAGE_HEADER = 24;
const NAMEDATALEN = 64;
const LP_NORMAL = 1;
const HEAP_HASOID_OLD = 0x0008;
const TUPLE_HEADER_MIN = 23;

export interface PgDatabaseRow {
  oid: number;
  datname: string;
  /** Block number and line pointer (1-based), for messages. */
  block: number;
  item: number;
}

export class PgDatabaseParseError extends Error {}

function isAllZero(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] !== 0) return false;
  return true;
}

/** Every database row (live or dead) in a pg_database heap file. `major`: the cluster's PostgreSQL major version. */
export function parsePgDatabase(file: Buffer, o: { major: number; blockSize?: number }): PgDatabaseRow[] {
  const bs = o.blockSize ?? 8192;
  if (file.length === 0) throw new PgDatabaseParseError('pg_database file is empty');
  if (file.length % bs !== 0) throw new PgDatabaseParseError(`pg_database file size ${file.length} is not a multiple of the block size ${bs}`);
  const oidInHeader = o.major < 12;
  const rows: PgDatabaseRow[] = [];
  for (let block = 0; block * bs < file.length; block++) {
    const base = block * bs;
    const page = file.subarray(base, base + bs);
    if (isAllZero(page, 0, bs)) continue; // a new, never-initialized page (PageIsNew) holds nothing
    const lower = page.readUInt16LE(12);
    const upper = page.readUInt16LE(14);
    const special = page.readUInt16LE(16);
    const sizeVersion = page.readUInt16LE(18);
    const where = `block ${block}`;
    if ((sizeVersion & 0xff00) !== bs) throw new PgDatabaseParseError(`${where}: page size ${sizeVersion & 0xff00} in the header, expected ${bs}`);
    if (lower < PAGE_HEADER || lower > upper || upper > special || special > bs || (lower - PAGE_HEADER) % 4 !== 0) {
      throw new PgDatabaseParseError(`${where}: inconsistent page header (pd_lower ${lower}, pd_upper ${upper}, pd_special ${special})`);
    }
    if (special !== bs) throw new PgDatabaseParseError(`${where}: a heap page has no special space (pd_special ${special})`);
    const items = (lower - PAGE_HEADER) / 4;
    for (let i = 0; i < items; i++) {
      const lp = page.readUInt32LE(PAGE_HEADER + i * 4);
      const off = lp & 0x7fff;
      const flags = (lp >>> 15) & 0x3;
      const len = (lp >>> 17) & 0x7fff;
      if (flags !== LP_NORMAL) continue; // unused, redirect or dead: no tuple data to read
      const at = `${where}, item ${i + 1}`;
      if (off < upper || off + len > special || len < TUPLE_HEADER_MIN) throw new PgDatabaseParseError(`${at}: line pointer out of range (offset ${off}, length ${len})`);
      const tuple = page.subarray(off, off + len);
      const infomask = tuple.readUInt16LE(20);
      const hoff = tuple[22]!;
      if (hoff < TUPLE_HEADER_MIN || hoff % 8 !== 0 || hoff > len) throw new PgDatabaseParseError(`${at}: bad t_hoff ${hoff}`);
      let oid: number;
      let nameAt: number;
      if (oidInHeader) {
        if (!(infomask & HEAP_HASOID_OLD)) throw new PgDatabaseParseError(`${at}: tuple has no OID (PostgreSQL ${o.major} stores it in the header)`);
        oid = tuple.readUInt32LE(hoff - 4);
        nameAt = hoff;
      } else {
        if (hoff + 4 > len) throw new PgDatabaseParseError(`${at}: tuple too short for its oid`);
        oid = tuple.readUInt32LE(hoff);
        nameAt = hoff + 4;
      }
      if (nameAt + NAMEDATALEN > len) throw new PgDatabaseParseError(`${at}: tuple too short for datname`);
      const name = tuple.subarray(nameAt, nameAt + NAMEDATALEN);
      const nul = name.indexOf(0);
      if (nul <= 0) throw new PgDatabaseParseError(`${at}: datname is empty or not NUL-terminated`);
      if (!isAllZero(name, nul, NAMEDATALEN)) throw new PgDatabaseParseError(`${at}: datname is not NUL-padded`);
      const datname = name.subarray(0, nul).toString('utf8');
      if (oid === 0 || /[\u0000-\u001f\ufffd]/.test(datname)) throw new PgDatabaseParseError(`${at}: implausible row (oid ${oid}, datname ${JSON.stringify(datname)})`);
      rows.push({ oid, datname, block, item: i + 1 });
    }
  }
  if (!rows.length) throw new PgDatabaseParseError('pg_database holds no rows');
  if (!rows.some((r) => r.datname === 'template1')) throw new PgDatabaseParseError('template1 is not among the rows: this is not pg_database as expected');
  return rows;
}
