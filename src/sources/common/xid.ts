// Transaction ids as pg_waldump and --target xid spell them (32 bits), against the 64-bit ones servers count in.

/**
 * A 32-bit transaction id (as pg_waldump and --target-xid spell it) as the
 * 64-bit one nearest to `near` (an xid8 of the same server). Pure.
 */
export function fullXid(xid: string, near: string): string {
  const n = BigInt(near);
  const x = BigInt(xid);
  const span = 1n << 32n;
  let full = (n / span) * span + x;
  if (full > n + span / 2n) full -= span;
  else if (full < n - span / 2n) full += span;
  return String(full < 0n ? x : full);
}
