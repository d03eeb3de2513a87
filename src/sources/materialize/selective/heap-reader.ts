// Reading a heap file straight from a base backup, without a running server:
// every tuple with a normal line pointer, dead ones included (a renamed,
// re-created or rewritten object can leave them; for selective restore,
// restoring more is harmless and restoring less is not). Used for
// pg_database (pg-database.ts) and a database's pg_class, pg_namespace,
// pg_index and pg_inherits (pg-class.ts).
//
// Layout (src/include/storage/bufpage.h, itemid.h, access/htup_details.h):
//   page header 24 bytes: pd_lsn(8) pd_checksum(2) pd_flags(2) pd_lower(2)
//     pd_upper(2) pd_special(2) pd_pagesize_version(2) pd_prune_xid(4);
//   line pointers from byte 24 to pd_lower, 4 bytes each (little-endian
//     bitfields): lp_off 15 bits, lp_flags 2 bits, lp_len 15 bits;
//   tuple header: t_infomask at 20, t_hoff at 22; data from t_hoff.
// Anything that does not look exactly like this throws HeapParseError: the
// caller then restores more instead of guessing.

const PAGE_HEADER = 24;
const LP_NORMAL = 1;
const TUPLE_HEADER_MIN = 23;
export const NAMEDATALEN = 64;

export class HeapParseError extends Error {}

export interface HeapTuple {
  /** The whole tuple (header included). */
  tuple: Buffer;
  infomask: number;
  /** Offset of the first column in `tuple`. */
  hoff: number;
  /** Block number and line pointer (1-based), for messages. */
  block: number;
  item: number;
  /** "<what> block B, item I", for messages. */
  at: string;
}

function isAllZero(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] !== 0) return false;
  return true;
}

/** Every tuple with a normal line pointer (live or dead) in a heap file; `what` names the file in messages. */
export function heapTuples(file: Buffer, o: { what: string; blockSize?: number }): HeapTuple[] {
  const bs = o.blockSize ?? 8192;
  if (file.length === 0) throw new HeapParseError(`${o.what} file is empty`);
  if (file.length % bs !== 0) throw new HeapParseError(`${o.what} file size ${file.length} is not a multiple of the block size ${bs}`);
  const out: HeapTuple[] = [];
  for (let block = 0; block * bs < file.length; block++) {
    const page = file.subarray(block * bs, (block + 1) * bs);
    if (isAllZero(page, 0, bs)) continue; // a new, never-initialized page (PageIsNew) holds nothing
    const lower = page.readUInt16LE(12);
    const upper = page.readUInt16LE(14);
    const special = page.readUInt16LE(16);
    const sizeVersion = page.readUInt16LE(18);
    const where = `${o.what} block ${block}`;
    if ((sizeVersion & 0xff00) !== bs) throw new HeapParseError(`${where}: page size ${sizeVersion & 0xff00} in the header, expected ${bs}`);
    if (lower < PAGE_HEADER || lower > upper || upper > special || special > bs || (lower - PAGE_HEADER) % 4 !== 0) {
      throw new HeapParseError(`${where}: inconsistent page header (pd_lower ${lower}, pd_upper ${upper}, pd_special ${special})`);
    }
    if (special !== bs) throw new HeapParseError(`${where}: a heap page has no special space (pd_special ${special})`);
    const items = (lower - PAGE_HEADER) / 4;
    for (let i = 0; i < items; i++) {
      const lp = page.readUInt32LE(PAGE_HEADER + i * 4);
      const off = lp & 0x7fff;
      const flags = (lp >>> 15) & 0x3;
      const len = (lp >>> 17) & 0x7fff;
      if (flags !== LP_NORMAL) continue; // unused, redirect or dead: no tuple data to read
      const at = `${where}, item ${i + 1}`;
      if (off < upper || off + len > special || len < TUPLE_HEADER_MIN) throw new HeapParseError(`${at}: line pointer out of range (offset ${off}, length ${len})`);
      const tuple = page.subarray(off, off + len);
      const hoff = tuple[22]!;
      if (hoff < TUPLE_HEADER_MIN || hoff % 8 !== 0 || hoff > len) throw new HeapParseError(`${at}: bad t_hoff ${hoff}`);
      out.push({ tuple, infomask: tuple.readUInt16LE(20), hoff, block, item: i + 1, at });
    }
  }
  return out;
}

/** Bytes `need` of fixed-width columns must follow t_hoff. */
export function needColumns(t: HeapTuple, need: number, what: string): void {
  if (t.hoff + need > t.tuple.length) throw new HeapParseError(`${t.at}: tuple too short for ${what}`);
}

/** A NameData column (64 bytes, NUL-terminated and NUL-padded) at `at` in the tuple. */
export function readName(t: HeapTuple, at: number, what: string): string {
  if (at + NAMEDATALEN > t.tuple.length) throw new HeapParseError(`${t.at}: tuple too short for ${what}`);
  const name = t.tuple.subarray(at, at + NAMEDATALEN);
  const nul = name.indexOf(0);
  if (nul <= 0) throw new HeapParseError(`${t.at}: ${what} is empty or not NUL-terminated`);
  if (!isAllZero(name, nul, NAMEDATALEN)) throw new HeapParseError(`${t.at}: ${what} is not NUL-padded`);
  const s = name.subarray(0, nul).toString('utf8');
  if (/[\u0000-\u001f\ufffd]/.test(s)) throw new HeapParseError(`${t.at}: implausible ${what} ${JSON.stringify(s)}`);
  return s;
}
