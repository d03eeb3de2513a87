// pg_waldump's output, parsed: record lines (the fields locate's hot path
// needs, found with indexOf only), block references, and COMMIT records
// with their times. Pure functions; waldump.ts runs the program.
import { Lsn } from './lsn.js';

/** One decoded pg_waldump record line. */
export interface WalRecord {
  rmgr: string;
  recLen: number;
  totLen: number;
  /** Transaction id (0 when the record belongs to no transaction). */
  xid: number;
  /** Start of the record, canonical form (0/16636A70). */
  lsn: string;
  prev: string;
  /** Everything after "desc: ", blkrefs included. */
  desc: string;
  blkrefs: BlockRef[];
}

export interface BlockRef {
  id: number;
  tablespace: number;
  database: number;
  relfilenode: number;
  fork: string;
  block: number;
  fpw: boolean;
}

const HEAD = 'rmgr: ';

/**
 * Parse one pg_waldump record line (PostgreSQL 10+ layout):
 * `rmgr: Heap        len (rec/tot):     54/    54, tx:      29631, lsn: 0/1692A2D0, prev 0/16928288, desc: DELETE …`.
 * Returns null for anything that is not a record line.
 */
export function parseRecordLine(line: string): WalRecord | null {
  const f = scanRecord(line);
  if (!f) return null;
  const lenAt = line.indexOf('len (rec/tot):', 6);
  let recLen = 0;
  let totLen = 0;
  if (lenAt > 0) {
    const slash = line.indexOf('/', lenAt + 14);
    const comma = line.indexOf(',', slash);
    recLen = parseInt(line.slice(lenAt + 14, slash), 10);
    totLen = parseInt(line.slice(slash + 1, comma), 10);
  }
  const prevAt = line.indexOf(', prev ', f.lsnEnd);
  const prev = prevAt >= 0 ? canonicalLsn(line.slice(prevAt + 7, line.indexOf(',', prevAt + 7))) : '0/0';
  const desc = line.slice(f.descAt).trimEnd();
  return { rmgr: f.rmgr, recLen, totLen, xid: f.xid, lsn: canonicalLsn(f.lsnText), prev, desc, blkrefs: parseBlockRefs(desc) };
}

/** The fields the event detector needs, found with indexOf only (the hot path). */
export interface ScannedRecord {
  rmgr: string;
  xid: number;
  /** LSN as printed (0/01967480); canonicalLsn() normalizes it. */
  lsnText: string;
  lsnEnd: number;
  /** Index in the line where desc starts. */
  descAt: number;
}

export function scanRecord(line: string): ScannedRecord | null {
  if (!line.startsWith(HEAD)) return null;
  let e = 6;
  while (e < line.length && line.charCodeAt(e) !== 32) e++;
  const rmgr = line.slice(6, e);
  const txAt = line.indexOf('tx:', e);
  if (txAt < 0) return null;
  let i = txAt + 3;
  while (line.charCodeAt(i) === 32) i++;
  let xid = 0;
  for (let c = line.charCodeAt(i); c >= 48 && c <= 57; c = line.charCodeAt(++i)) xid = xid * 10 + (c - 48);
  const lsnAt = line.indexOf('lsn: ', i);
  if (lsnAt < 0) return null;
  const lsnEnd = line.indexOf(',', lsnAt + 5);
  if (lsnEnd < 0) return null;
  const descAt = line.indexOf('desc: ', lsnEnd);
  return { rmgr, xid, lsnText: line.slice(lsnAt + 5, lsnEnd), lsnEnd, descAt: descAt < 0 ? line.length : descAt + 6 };
}

/** 0/01967480 → 0/1967480 (the spelling pg_current_wal_lsn() uses). */
/** 0/01967480 → 0/1967480 (the spelling pg_current_wal_lsn() uses). */
export const canonicalLsn = Lsn.canonical;

const BLKREF_RE = /blkref #(\d+): rel (\d+)\/(\d+)\/(\d+)(?: fork (\w+))? blk (\d+)( FPW)?/g;

export function parseBlockRefs(desc: string): BlockRef[] {
  const out: BlockRef[] = [];
  if (!desc.includes('blkref #')) return out;
  for (const m of desc.matchAll(BLKREF_RE)) {
    out.push({
      id: Number(m[1]),
      tablespace: Number(m[2]),
      database: Number(m[3]),
      relfilenode: Number(m[4]),
      fork: m[5] ?? 'main',
      block: Number(m[6]),
      fpw: m[7] !== undefined,
    });
  }
  return out;
}

/** Relation of blkref #0 (fast path): [tablespace, database, relfilenode] or null. */
export function firstBlockRel(line: string, from = 0): [number, number, number] | null {
  const at = line.indexOf('blkref #0: rel ', from);
  if (at < 0) return null;
  let i = at + 15;
  const nums: number[] = [0, 0, 0];
  for (let k = 0; k < 3; k++) {
    let n = 0;
    for (let c = line.charCodeAt(i); c >= 48 && c <= 57; c = line.charCodeAt(++i)) n = n * 10 + (c - 48);
    nums[k] = n;
    i++; // skip '/' or ' '
  }
  return nums as [number, number, number];
}

/**
 * A time as pg_waldump prints it ("2026-11-25 01:42:48.715829 UTC") → ISO
 * 8601, microseconds kept ("2026-11-25T01:42:48.715829Z"). undrop runs
 * pg_waldump with TZ=UTC; offsets and zone names are read too. Text that is
 * no time comes back trimmed.
 */
export function walTimeToIso(text: string): string {
  const t = text.trim();
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d+)?(?: (\S+))?$/.exec(t);
  if (!m) return t;
  const zone = m[4];
  const frac = m[3] ?? '';
  if (!zone || /^(UTC|GMT)$/i.test(zone)) return `${m[1]}T${m[2]}${frac}Z`;
  if (/^[+-]\d{2}$/.test(zone)) return `${m[1]}T${m[2]}${frac}${zone}:00`;
  if (/^[+-]\d{2}:?\d{2}$/.test(zone)) return `${m[1]}T${m[2]}${frac}${zone}`;
  // A zone name (CET): let Date resolve it, then put the microseconds back.
  const ms = Date.parse(`${m[1]} ${m[2]}${frac} ${zone}`);
  if (Number.isNaN(ms)) return t;
  return new Date(ms).toISOString().replace(/\.\d+Z$/, `${frac}Z`);
}

export interface CommitRecord {
  xid: string;
  lsn: Lsn;
  time: string;
}

const COMMIT_RE = /tx:\s+(\d+), lsn: ([0-9A-F]+\/[0-9A-F]+),.*desc: COMMIT(?:_PREPARED)? (?:\d+: )?(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)? \S+?)(?:;|\s*$)/;

/** A pg_waldump COMMIT (or COMMIT_PREPARED) record line, or undefined. */
export function parseCommitLine(line: string): CommitRecord | undefined {
  const m = COMMIT_RE.exec(line);
  if (!m) return undefined;
  const time = walTimeToIso(m[3]!);
  return /^\d{4}-\d{2}-\d{2}T/.test(time) ? { time, lsn: m[2]!, xid: m[1]! } : undefined;
}

const XACT_END_RE = /tx:\s+(\d+), lsn: ([0-9A-F]+\/[0-9A-F]+),.*desc: (?:COMMIT|ABORT)(?:_PREPARED (\d+):)?[ ;]/;

/**
 * Where a transaction ended, from a pg_waldump Transaction line: a COMMIT or
 * ABORT record (recovery_target_xid stops at either), its xid and LSN; for
 * COMMIT_PREPARED / ABORT_PREPARED the prepared transaction's xid, as
 * recovery reads it. Undefined for any other line.
 */
export function transactionEndIn(line: string): { xid: string; lsn: Lsn } | undefined {
  const m = XACT_END_RE.exec(line);
  return m ? { xid: m[3] ?? m[1]!, lsn: Lsn.canonical(m[2]!) } : undefined;
}
