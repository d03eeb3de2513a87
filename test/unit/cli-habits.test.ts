// Pure pieces of the CLI's habits and progress lines.
import { describe, expect, it } from 'vitest';
import { throttle } from '../../src/cli/steps.js';
import { suggest } from '../../src/cli/suggest.js';
import { pauseLine, resumeLine } from '../../src/cli/render/pause.js';
import { replayMeter } from '../../src/postgres/recovery-watch.js';
import { builtNames, copyMeter } from '../../src/recovery/copy-back.js';

describe('did you mean', () => {
  const known = ['pause', 'probe', 'locate', 'recover', 'promote', 'resume', 'verify', 'lab', 'playbook'];
  it('suggests the closest command for a typo or a prefix, nothing for noise', () => {
    expect(suggest('probee', known)[0]).toBe('probe');
    expect(suggest('recvoer', known)[0]).toBe('recover');
    expect(suggest('loc', known)[0]).toBe('locate');
    expect(suggest('xyzzy', known)).toEqual([]);
  });
});

describe('progress lines', () => {
  it('off a terminal: at most one line per interval', () => {
    let t = 0;
    const out: string[] = [];
    const p = throttle((m) => out.push(m), 5000, () => t);
    p('a');
    t = 1000;
    p('b');
    t = 5000;
    p('c');
    t = 9999;
    p('d');
    t = 10_001;
    p('e');
    expect(out).toEqual(['a', 'c', 'e']);
  });

  it('WAL replay: percent of the distance to the target LSN, rate and ETA', () => {
    const m = replayMeter('0/2000000');
    expect(m('0/1000000', 0)).toBe(' — 0% of 16 MB to 0/2000000');
    expect(m('0/1800000', 1000)).toBe(' — 50% of 16 MB to 0/2000000, 8.0 MB/s, ETA 1.0 s');
    expect(replayMeter(undefined)('0/1000000', 0)).toBe('');
  });

  it('copy back: bytes, estimated rows and rate against the source estimate', () => {
    let t = 0;
    const lines: string[] = [];
    const meter = copyMeter('public.shipments', { rows: 1000, bytes: 1024 * 1024 }, (l) => lines.push(l), () => t);
    t = 1000;
    meter(512 * 1024);
    expect(lines.at(-1)).toBe('copying public.shipments: 512 kB of ~1.0 MB (50%), ~500 of ~1,000 rows, 512 kB/s');
  });

  it('names the indexes and constraints a post-data script builds', () => {
    const sql = 'ALTER TABLE ONLY s.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (id);\nCREATE INDEX t_x ON s.t USING btree (x);\nCREATE UNIQUE INDEX "T u" ON s.t (y);';
    expect(builtNames(sql)).toEqual(['t_pkey', 't_x', 'T u']);
  });
});

describe('pause and resume lines', () => {
  const base = { name: 'replica-4h', safe: true, delayMs: 4 * 3600_000, replayTime: '2026-11-29T03:00:00.123Z', replayLsn: '0/5000000', lagMs: 3600_000, leftMs: null, pausedAt: '2026-11-29T04:00:00.000Z' };
  it('says what the replica holds and how long it had left', () => {
    expect(pauseLine({ ...base, outcome: 'paused' })).toBe('✔ replica-4h: paused now; it holds everything committed before 2026-11-29 03:00:00 UTC (replay ran 1 h 0 min behind, delay 4 h 0 min); an incident within the last 1 h 0 min had not been replayed yet');
    expect(pauseLine({ ...base, outcome: 'already-paused', leftMs: 90 * 60_000 })).toContain('was already paused; it holds everything committed before 2026-11-29 03:00:00 UTC (replay ran 1 h 0 min behind, delay 4 h 0 min); it had 1 h 30 min left');
    expect(pauseLine({ ...base, outcome: 'failed', safe: false, error: { code: 'REPLICA_UNREACHABLE', message: 'connection refused' } })).toBe('✖ replica-4h: NOT paused — connection refused');
    expect(pauseLine({ ...base, outcome: 'not-delayed' })).toContain('nothing to pause');
  });
  it('resume says what it did', () => {
    expect(resumeLine({ name: 'r', outcome: 'resumed', replayTime: '2026-11-29T03:00:00Z', delayMs: 600_000 })).toBe('✔ r: replay resumed (it was paused at 2026-11-29 03:00:00 UTC); it now catches up and applies everything, the incident included, 10 min 0 s after it happened');
    expect(resumeLine({ name: 'r', outcome: 'not-paused', replayTime: null, delayMs: 600_000 })).toBe('· r: replay was not paused; nothing done');
  });
});
