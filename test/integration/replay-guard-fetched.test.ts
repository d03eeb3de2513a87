// The replay guard on WAL fetched a segment at a time (pgBackRest archive-get)
// for an xid target whose end nobody has read yet: it reads the segments as
// they arrive and stops fetching at that transaction's commit, instead of
// fetching to the end of the archive. Real WAL from a real instance, with a
// CREATE TABLESPACE whose record crosses a segment boundary (a read that
// ends there leaves it out; the next must read it whole). The tablespace
// folder stands in for a live one: it exists on this host.
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBinaries, type PgBinaries } from '../../src/postgres/binaries.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { TempInstance } from '../../src/postgres/instance.js';
import { chownForServer } from '../../src/postgres/os-user.js';
import { assertFetchedReplayLeavesTablespacesAlone } from '../../src/postgres/replay-guard.js';
import { Lsn } from '../../src/postgres/wal/lsn.js';
import { DEFAULT_SEGMENT_SIZE } from '../../src/postgres/wal/segments.js';
import { runWaldump } from '../../src/postgres/wal/waldump.js';
import { testWorkDir } from '../helpers.js';

const SEG = BigInt(DEFAULT_SEGMENT_SIZE);
const base = join(testWorkDir(), `guard-fetched-${process.pid}`);
const wal = join(base, 'wal');
// A long path makes a long record (about 0.9 kB), which the padding below lays across a segment boundary.
const longPath = (last: string) => join(base, ...Array.from({ length: 3 }, (_, i) => `${'live-tablespace-'.repeat(13)}${i}`), `${'live-tablespace-'.repeat(13)}${last}`);
const live = longPath('3');
// the CREATEs that size the padding: a path as long, gone by the time the guard runs (so they refuse nothing)
const scratch = longPath('x');
let bin: PgBinaries;
let inst: TempInstance;
let start: string;
let xidBefore: string;
/** Inside that transaction (before its commit record), and after it. */
let duringBefore: string;
let afterBefore: string;
let xidAfter: string;
let segmentsInWal = 0;
/** Where the CREATE TABLESPACE record lies, and how long it is. */
let create: { lsn: string; len: number };

const insertLsn = async () => (await inst.query<{ l: string }>('select pg_current_wal_insert_lsn()::text as l')).rows[0]!.l;
const xactLsn = async (sql: string) => (await inst.query<{ x: string; l: string }>(`${sql} returning txid_current()::text as x, pg_current_wal_insert_lsn()::text as l`)).rows[0]!;
const tablespaceRecords = async (from: string) => {
  const r = await runWaldump(bin, { dir: join(inst.dataDir, 'pg_wal'), start: from, rmgrs: ['Tablespace'], asServerUser: true });
  return [...r.stdout.matchAll(/len \(rec\/tot\):\s*\d+\/\s*(\d+), tx:\s+\d+, lsn: ([0-9A-F]+\/[0-9A-F]+), prev \S+ desc: CREATE/g)].map((m) => ({ len: Number(m[1]), lsn: m[2]! }));
};
const toSegmentEnd = (lsn: string) => Number(SEG - (Lsn.parse(lsn) % SEG));

beforeAll(async () => {
  mkdirSync(live, { recursive: true });
  mkdirSync(scratch, { recursive: true });
  mkdirSync(wal, { recursive: true });
  await chownForServer(base);
  bin = await findBinaries();
  // every segment from the start stays in pg_wal; no checkpoint in between (it would change the records' sizes)
  inst = await TempInstance.create({ bin, workDir: testWorkDir(), name: 'guard-fetched', noSync: true, settings: { wal_keep_size: '1GB', max_wal_size: '2GB', checkpoint_timeout: '1h' } });
  await inst.start();
  start = (await inst.query<{ l: string }>('select redo_lsn::text as l from pg_control_checkpoint()')).rows[0]!.l;
  await inst.query('create table t (id int)');
  ({ x: xidBefore, l: duringBefore } = await xactLsn('insert into t values (1)'));
  afterBefore = await insertLsn();
  for (let i = 0; i < 3; i++) await inst.query('select pg_switch_wal()');
  // How far the CREATE record lies from where the statement begins (catalog rows first), measured once it
  // writes no full-page image: the catalog's pages were changed since the checkpoint.
  await inst.query(`create tablespace warm location '${scratch}'`);
  await inst.query('drop tablespace warm');
  const before = await insertLsn();
  await inst.query(`create tablespace measured location '${scratch}'`);
  const measured = (await tablespaceRecords(before))[0]!;
  const lead = Number(Lsn.diff(measured.lsn, before));
  await inst.query('drop tablespace measured');
  rmSync(scratch, { recursive: true });
  // Pad with messages until the CREATE would begin ~half its length before a segment's end.
  const want = lead + Math.floor(measured.len / 2);
  await inst.query('select pg_switch_wal()');
  for (let i = 0; i < 40; i++) {
    const gap = toSegmentEnd(await insertLsn()) - want;
    if (gap >= 0 && gap < 120) break;
    if (gap < 0) {
      await inst.query('select pg_switch_wal()');
      continue;
    }
    const n = Math.max(0, gap - 100 - Math.ceil(gap / 8192) * 24);
    await inst.query(`select pg_logical_emit_message(false, 'pad', repeat('x', ${n}))`);
  }
  const at = await insertLsn();
  await inst.query(`create tablespace straddling location '${live}'`);
  create = (await tablespaceRecords(at))[0]!;
  ({ x: xidAfter } = await xactLsn('insert into t values (2)'));
  for (let i = 0; i < 3; i++) await inst.query('select pg_switch_wal()');
  await inst.stop();
  const pgWal = join(inst.dataDir, 'pg_wal');
  for (const f of readdirSync(pgWal)) {
    if (!/^[0-9A-F]{24}$/.test(f)) continue;
    copyFileSync(join(pgWal, f), join(wal, f));
    segmentsInWal++;
  }
  await chownForServer(wal);
}, 180_000);

afterAll(async () => {
  await inst?.destroy();
  await runAllCleanups();
  rmSync(base, { recursive: true, force: true });
});

/** archive-get's stand-in: a copy of the segment when the archive has it. */
const fetch = async (name: string, dest: string) => {
  if (!existsSync(join(wal, name))) return false;
  copyFileSync(join(wal, name), dest);
  return true;
};
let stages = 0;
const guard = (endXid: string, over: { step?: number; parallel?: number } = {}) => {
  const stageDir = join(base, `stage-${stages++}`);
  mkdirSync(stageDir);
  return assertFetchedReplayLeavesTablespacesAlone(bin, { fetch, stageDir, startLsn: start, endXid, timeline: 1, label: 'the test backup', ...over });
};

describe('replay guard reading fetched WAL up to an xid', () => {
  it('the test WAL holds a CREATE TABLESPACE record across a segment boundary', () => {
    expect(toSegmentEnd(create.lsn)).toBeLessThan(create.len);
  });

  it('a transaction committed before the CREATE: fetching stops at its commit, nothing refused', async () => {
    const r = await guard(xidBefore, { step: 1, parallel: 2 });
    expect(r.complete).toBe(true);
    expect(r.end).toBeDefined();
    expect(Lsn.before(r.end!, duringBefore)).toBe(false);
    expect(Lsn.before(r.end!, afterBefore)).toBe(true);
    expect(Lsn.before(r.end!, create.lsn)).toBe(true);
    // the segments from the backup's start to the commit, a read's worth past it at most
    expect(r.segments).toBeLessThan(segmentsInWal);
  });

  it('a transaction after the CREATE refuses, whether a read ends inside the CREATE record or not', async () => {
    for (const over of [{ step: 1, parallel: 1 }, { step: 1, parallel: 3 }, {}]) {
      await expect(guard(xidAfter, over)).rejects.toMatchObject({ code: 'REPLAY_WOULD_TOUCH_TABLESPACE' });
    }
  });

  it('a transaction the WAL never ends: read to the end of the archive, which holds the CREATE: refused', async () => {
    await expect(guard('4000000000', { step: 2 })).rejects.toMatchObject({ code: 'REPLAY_WOULD_TOUCH_TABLESPACE' });
  });
});
