// WAL segment files: their names (timeline + segment number), their long page
// header (system identifier, XLOG_PAGE_MAGIC → PostgreSQL major, segment
// size), and listing them in a folder.
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type Lsn, formatLsn, parseLsn } from './lsn.js';

export const DEFAULT_SEGMENT_SIZE = 16 * 1024 * 1024;

export interface SegmentName {
  timeline: number;
  /** Segment number counted from LSN 0 (log * segmentsPerLog + seg). */
  segno: bigint;
}

const SEGMENT_RE = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;

export function isSegmentName(name: string): boolean {
  return SEGMENT_RE.test(name);
}

export function parseSegmentName(name: string, segmentSize = DEFAULT_SEGMENT_SIZE): SegmentName {
  const m = SEGMENT_RE.exec(name);
  if (!m) throw new Error(`"${name}" is not a WAL segment name`);
  const perLog = 0x100000000n / BigInt(segmentSize);
  return { timeline: parseInt(m[1]!, 16), segno: BigInt(`0x${m[2]}`) * perLog + BigInt(`0x${m[3]}`) };
}

export function segmentName(timeline: number, segno: bigint, segmentSize = DEFAULT_SEGMENT_SIZE): string {
  const perLog = 0x100000000n / BigInt(segmentSize);
  const hex = (n: bigint | number) => n.toString(16).toUpperCase().padStart(8, '0');
  return `${hex(timeline)}${hex(segno / perLog)}${hex(segno % perLog)}`;
}

export function segnoOfLsn(lsn: bigint | Lsn, segmentSize = DEFAULT_SEGMENT_SIZE): bigint {
  const v = typeof lsn === 'string' ? parseLsn(lsn) : lsn;
  return v / BigInt(segmentSize);
}

/** The segment file that holds an LSN on a timeline. */
export function segmentForLsn(timeline: number, lsn: bigint | Lsn, segmentSize = DEFAULT_SEGMENT_SIZE): string {
  return segmentName(timeline, segnoOfLsn(lsn, segmentSize), segmentSize);
}

/** XLOG_PAGE_MAGIC of each major (src/include/access/xlog_internal.h). */
const WAL_MAGIC: Record<number, number> = {
  0xd093: 9.6,
  0xd097: 10,
  0xd098: 11,
  0xd101: 12,
  0xd106: 13,
  0xd10d: 14,
  0xd110: 15,
  0xd113: 16,
  0xd116: 17,
  0xd118: 18,
};

/** The PostgreSQL major that writes WAL pages with this magic (so pg_waldump of that version reads them). */
export function majorFromWalMagic(magic: number): number | undefined {
  return WAL_MAGIC[magic];
}

export interface SegmentHeader {
  magic: number;
  major: number | undefined;
  timeline: number;
  /** LSN of the segment's first page. */
  pageAddr: Lsn;
  systemIdentifier: string;
  segmentSize: number;
  blockSize: number;
}

/** Read the long page header at the start of a WAL segment file (null when it has none or cannot be read). */
export async function readSegmentHeader(path: string): Promise<SegmentHeader | null> {
  let fh;
  try {
    fh = await open(path, 'r');
    const buf = Buffer.alloc(40);
    const { bytesRead } = await fh.read(buf, 0, 40, 0);
    if (bytesRead < 40) return null;
    return decodeSegmentHeader(buf);
  } catch {
    return null;
  } finally {
    await fh?.close();
  }
}

export function decodeSegmentHeader(buf: Buffer): SegmentHeader | null {
  const magic = buf.readUInt16LE(0);
  const info = buf.readUInt16LE(2);
  // XLP_LONG_HEADER = 0x0002: the first page of a segment always has it.
  if ((info & 0x0002) === 0) return null;
  return {
    magic,
    major: majorFromWalMagic(magic),
    timeline: buf.readUInt32LE(4),
    pageAddr: formatLsn(buf.readBigUInt64LE(8)),
    systemIdentifier: buf.readBigUInt64LE(24).toString(),
    segmentSize: buf.readUInt32LE(32),
    blockSize: buf.readUInt32LE(36),
  };
}

/** The PostgreSQL major of a WAL file, from its first page's magic (undefined when unreadable or unknown). */
export async function walFileMajor(path: string): Promise<number | undefined> {
  try {
    const fh = await open(path, 'r');
    try {
      const b = Buffer.alloc(2);
      await fh.read(b, 0, 2, 0);
      return majorFromWalMagic(b.readUInt16LE(0));
    } finally {
      await fh.close();
    }
  } catch {
    return undefined;
  }
}

export interface SegmentFile {
  name: string;
  path: string;
  size: number;
}

/** WAL segment files in a folder (full-size ones and .partial), sorted by name. */
export async function listSegments(dir: string): Promise<SegmentFile[]> {
  const names = await readdir(dir);
  const out: SegmentFile[] = [];
  for (const n of names) {
    const base = n.endsWith('.partial') ? n.slice(0, -8) : n;
    if (!isSegmentName(base)) continue;
    const path = join(dir, n);
    try {
      const s = await stat(path);
      if (s.isFile()) out.push({ name: n, path, size: s.size });
    } catch {
      /* vanished */
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
