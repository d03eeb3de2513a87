// Pure pieces of the CLI's habits and progress lines.
import { describe, expect, it } from 'vitest';
import { throttle } from '../../src/cli/steps.js';
import { suggest } from '../../src/cli/suggest.js';
import { pauseLine, resumeLine } from '../../src/cli/render/pause.js';
import { probeLine, replicaBanner } from '../../src/cli/render/probe.js';
import { replayMeter } from '../../src/postgres/recovery-watch.js';
import { builtNames, copyMeter } from '../../src/recovery/copy-back.js';
import { restoreLine } from '../../src/sources/materialize/restore-progress.js';

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
  it('off a terminal: at most one line per interval, but a new phase always shows', () => {
    let t = 0;
    const out: string[] = [];
    const p = throttle((m) => out.push(m), 5000, () => t);
    p('copying a: 1');
    t = 1000;
    p('copying a: 2');
    t = 5000;
    p('copying a: 3');
    t = 5100;
    p('building 2 indexes: a_pkey, a_x');
    t = 9999;
    p('building 2 indexes: a_pkey, a_x');
    t = 10_101;
    p('building 2 indexes: a_pkey, a_x');
    expect(out).toEqual(['copying a: 1', 'copying a: 3', 'building 2 indexes: a_pkey, a_x', 'building 2 indexes: a_pkey, a_x']);
  });

  it('off a terminal, tables copied in parallel: each table at most once per interval, not every chunk', () => {
    let t = 0;
    const out: string[] = [];
    const p = throttle((m) => out.push(m), 5000, () => t);
    for (; t < 9000; t += 100) {
      p(`copying a: ${t}`);
      p(`copying b: ${t}`);
    }
    expect(out).toEqual(['copying a: 0', 'copying b: 0', 'copying a: 5000', 'copying b: 5000']);
  });

  it('WAL replay: percent of the distance to the target LSN, rate and ETA', () => {
    const m = replayMeter('0/2000000');
    expect(m('0/1000000', 0)).toBe(' — 0% of 16 MB to 0/2000000');
    expect(m('0/1800000', 1000)).toBe(' — 50% of 16 MB to 0/2000000, 8.0 MB/s, ETA 1.0 s');
    expect(replayMeter(undefined)('0/1000000', 0)).toBe('');
  });

  it('WAL replay from the backup\'s start: the first sample is already part way', () => {
    const m = replayMeter('0/2000000', '0/1000000');
    expect(m('0/1800000', 2000)).toBe(' — 50% of 16 MB to 0/2000000');
    expect(m('0/1C00000', 3000)).toBe(' — 75% of 16 MB to 0/2000000, 4.0 MB/s, ETA 1.0 s');
  });

  it('restore: bytes written against the expected size and the rate; compressed: bytes and rate only', () => {
    expect(restoreLine('extracting base.tar', 512 * 1024 ** 2, 1024 ** 3, 4)).toBe('extracting base.tar: 512 MB written of ~1.0 GB (50%), 128 MB/s');
    expect(restoreLine('extracting base.tar.gz', 2 * 1024 ** 3, null, 8)).toBe('extracting base.tar.gz: 2.0 GB written, 256 MB/s');
  });

  it('copy back: bytes, estimated rows and rate against the source estimate', () => {
    let t = 0;
    const lines: string[] = [];
    const meter = copyMeter('public.shipments', { rows: 1000, bytes: 1024 * 1024 }, (l) => lines.push(l), () => t);
    t = 1000;
    meter(512 * 1024);
    expect(lines.at(-1)).toBe('copying public.shipments: 512 kB of ~1.0 MB (50%), ~500 of ~1,000 rows, 512 kB/s');
    // chunks within 100 ms of the last line build none
    meter(256 * 1024);
    t = 1050;
    meter(1);
    expect(lines).toHaveLength(1);
    t = 1100;
    meter(1);
    expect(lines.at(-1)).toContain('768 kB of ~1.0 MB (75%)');
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

describe('probe results as they arrive', () => {
  const base = { name: 'replica-4h', kind: 'delayed-replica' as const, status: 'usable' as const, recoveryPoint: { time: '2026-11-29T03:12:00Z', lsn: '0/5000000' }, tables: [], findings: [], durationMs: 250, lossWindowMs: 0 };
  it('the replica banner comes with its own result, not after every probe', () => {
    expect(replicaBanner({ ...base, timeLeftMs: 12 * 60_000 })).toBe('!!! replica-4h: 12 min 0 s LEFT before this replica replays the incident. Pause it now: undrop pause --source replica-4h !!!');
    expect(replicaBanner({ ...base, kind: 'pitr', timeLeftMs: 5 } as never)).toBeNull();
    expect(probeLine({ ...base, timeLeftMs: null })).toBe('✔ replica-4h (delayed-replica): usable, recovery point 2026-11-29 03:12:00Z @ 0/5000000, loses 0 ms (250 ms)');
  });
});
