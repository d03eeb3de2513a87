// LSNs and WAL segment names. LSNs are 64-bit; bigint keeps them exact.

export const DEFAULT_SEGMENT_SIZE = 16 * 1024 * 1024;

export function parseLsn(text: string): bigint {
  const m = /^\s*([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})\s*$/.exec(text);
  if (!m) throw new Error(`"${text}" is not an LSN (expected X/Y in hex, such as 0/16636A70)`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function isLsn(text: string): boolean {
  return /^\s*[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}\s*$/.test(text);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

export function compareLsn(a: string, b: string): number {
  const x = parseLsn(a);
  const y = parseLsn(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

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

export function segnoOfLsn(lsn: bigint | string, segmentSize = DEFAULT_SEGMENT_SIZE): bigint {
  const v = typeof lsn === 'string' ? parseLsn(lsn) : lsn;
  return v / BigInt(segmentSize);
}

/** The segment file that holds an LSN on a timeline. */
export function segmentForLsn(timeline: number, lsn: bigint | string, segmentSize = DEFAULT_SEGMENT_SIZE): string {
  return segmentName(timeline, segnoOfLsn(lsn, segmentSize), segmentSize);
}

/** First LSN of a segment. */
export function segmentStartLsn(segno: bigint, segmentSize = DEFAULT_SEGMENT_SIZE): bigint {
  return segno * BigInt(segmentSize);
}
