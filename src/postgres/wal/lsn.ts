// LSNs: undrop keeps them as PostgreSQL prints them (X/Y, hex), the way
// they appear in JSON documents, logs and pg_waldump output. They are never
// compared as strings: Lsn.compare / Lsn.diff read them as 64-bit values.

/** An LSN in PostgreSQL's spelling (0/16636A70). Compare with Lsn.compare, never with < on the text. */
export type Lsn = string;

const LSN_RE = /^\s*([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})\s*$/;

/** X/Y → 64-bit value (bigint keeps it exact). Tolerates pg_waldump's zero padding. */
export function parseLsn(text: Lsn): bigint {
  const m = LSN_RE.exec(text);
  if (!m) throw new Error(`"${text}" is not an LSN (expected X/Y in hex, such as 0/16636A70)`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(lsn: bigint): Lsn {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

export const Lsn = {
  parse: parseLsn,
  format: formatLsn,
  isLsn(text: string): boolean {
    return LSN_RE.test(text);
  },
  /** 0/01967480 → 0/1967480 (pg_current_wal_lsn()'s spelling); text that is no LSN comes back as is. */
  canonical(text: string): Lsn {
    const s = text.indexOf('/');
    if (s < 0) return text;
    const part = (p: string) => p.replace(/^0+(?=.)/, '').toUpperCase();
    return `${part(text.slice(0, s))}/${part(text.slice(s + 1))}`;
  },
  /** -1, 0 or 1, as a sort comparator wants. */
  compare(a: Lsn, b: Lsn): number {
    const x = parseLsn(a);
    const y = parseLsn(b);
    return x < y ? -1 : x > y ? 1 : 0;
  },
  /** a - b in bytes of WAL. */
  diff(a: Lsn, b: Lsn): bigint {
    return parseLsn(a) - parseLsn(b);
  },
  /** a is strictly before b. */
  before(a: Lsn, b: Lsn): boolean {
    return parseLsn(a) < parseLsn(b);
  },
  /** The earlier of two LSNs. */
  min(a: Lsn, b: Lsn): Lsn {
    return parseLsn(b) < parseLsn(a) ? b : a;
  },
};

export const isLsn = Lsn.isLsn;
