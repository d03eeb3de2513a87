// A 32-bit xid (as pg_waldump and --target-xid spell it) made 64-bit against the replica's own
// xid8, so pg_xact_status asks about the right epoch.
import { describe, expect, it } from 'vitest';
import { fullXid } from '../../src/sources/common/xid.js';

describe('fullXid', () => {
  it('epoch 0: the xid itself', () => {
    expect(fullXid('1632', '1700')).toBe('1632');
    expect(fullXid('1800', '1700')).toBe('1800');
  });
  it('takes the epoch of the reference', () => {
    const epoch1 = 2n ** 32n;
    expect(fullXid('1632', String(epoch1 + 1700n))).toBe(String(epoch1 + 1632n));
  });
  it('across a wraparound: the nearest of the two epochs', () => {
    const epoch1 = 2n ** 32n;
    // just after the wrap, an xid from just before it belongs to the previous epoch
    expect(fullXid(String(2 ** 32 - 10), String(epoch1 + 5n))).toBe(String(epoch1 - 10n));
    // just before the wrap, a small xid is the next epoch's
    expect(fullXid('5', String(epoch1 - 10n))).toBe(String(epoch1 + 5n));
  });
  it('never negative', () => {
    expect(fullXid(String(2 ** 32 - 10), '5')).toBe(String(2 ** 32 - 10));
  });
});
