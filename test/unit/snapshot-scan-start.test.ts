// A snapshot's checkpoint vouches that a transaction began after its redo
// point when its id is at or past the NextXID the checkpoint recorded (pure).
import { describe, expect, it } from 'vitest';
import { beganAfterCheckpoint } from '../../src/sources/snapshot/scan-start.js';

describe('beganAfterCheckpoint', () => {
  it('an id at or past NextXID began after the redo point; an earlier one may not have', () => {
    expect(beganAfterCheckpoint('1746', '0:1746')).toBe(true);
    expect(beganAfterCheckpoint('1800', '0:1746')).toBe(true);
    expect(beganAfterCheckpoint('1745', '0:1746')).toBe(false);
  });
  it('counts in 64 bits across the epoch: a 32-bit id just past a wraparound is after, one long before is not', () => {
    expect(beganAfterCheckpoint('5', `1:${2 ** 32 - 10}`)).toBe(true); // epoch 2, id 5
    expect(beganAfterCheckpoint(String(2 ** 32 - 20), '2:3')).toBe(false); // epoch 1, long before
  });
  it('anything it cannot read vouches for nothing', () => {
    expect(beganAfterCheckpoint('1746', undefined)).toBe(false);
    expect(beganAfterCheckpoint('1746', '1746')).toBe(false);
    expect(beganAfterCheckpoint('x', '0:1746')).toBe(false);
  });
});
