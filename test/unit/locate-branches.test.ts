// Which events lie on production's own history (a WAL archive with timelines).
import { describe, expect, it } from 'vitest';
import { parseHistory } from '../../src/postgres/wal/history.js';
import { branchesLast, onTimelineHistory } from '../../src/recovery/locate/branches.js';

// Timeline 2: a PITR copy forked from 1 at 0/4000000. Timeline 3: production, left 1 at 0/5000000.
const histories = new Map([
  [2, parseHistory('1\t0/4000000\tno recovery target specified\n')],
  [3, parseHistory('1\t0/5000000\tno recovery target specified\n')],
]);
const ev = (timeline: number, commitLsn: string) => ({ timeline, commitLsn, notes: [] as string[] });

describe('events on production\'s history', () => {
  it('production on timeline 3: its own events, and timeline 1 before it left it; not timeline 2, nor timeline 1 after the fork', () => {
    expect(onTimelineHistory(ev(3, '0/6000000'), 3, histories)).toBe(true);
    expect(onTimelineHistory(ev(1, '0/4800000'), 3, histories)).toBe(true);
    expect(onTimelineHistory(ev(1, '0/5100000'), 3, histories)).toBe(false);
    expect(onTimelineHistory(ev(2, '0/4800000'), 3, histories)).toBe(false);
  });

  it('production still on timeline 1: every other timeline is a branch', () => {
    expect(onTimelineHistory(ev(1, '0/9000000'), 1, histories)).toBe(true);
    expect(onTimelineHistory(ev(2, '0/4800000'), 1, histories)).toBe(false);
  });

  it('production\'s history file missing: cannot tell, nothing moved', () => {
    expect(onTimelineHistory(ev(2, '0/4800000'), 4, histories)).toBeUndefined();
    const list = [ev(2, '0/4800000'), ev(4, '0/4700000')];
    expect(branchesLast(list, 4, histories)).toEqual(list);
  });

  it('branch events go last, with a note; the rest keep their order; production unknown: unchanged', () => {
    const junk = ev(2, '0/7000000');
    const incident = ev(3, '0/6000000');
    const older = ev(1, '0/4800000');
    expect(branchesLast([junk, incident, older], 3, histories)).toEqual([incident, older, junk]);
    expect(junk.notes[0]).toMatch(/^On timeline 2, a branch production's own history \(timeline 3\) does not include/);
    expect(branchesLast([junk, incident], undefined, histories)).toEqual([junk, incident]);
  });
});
