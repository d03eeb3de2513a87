// The replay guard without the replay's end (an xid given by hand, whose
// commit locate's scan is still looking for): it reads to the end of the
// WAL instead of waiting, and waits for the end only over a CREATE
// TABLESPACE whose folder exists here — so one made after the target
// refuses nothing, one before it still refuses, and an end never found
// refuses. Real WAL from a real instance; the tablespace folder stands in
// for a live one.
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBinaries, type PgBinaries } from '../../src/postgres/binaries.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { TempInstance } from '../../src/postgres/instance.js';
import { chownForServer } from '../../src/postgres/os-user.js';
import { assertReplayLeavesTablespacesAlone } from '../../src/postgres/replay-guard.js';
import { testWorkDir } from '../helpers.js';

const base = join(testWorkDir(), `guard-end-${process.pid}`);
const wal = join(base, 'wal');
const live = join(base, 'live-ts');
let bin: PgBinaries;
let inst: TempInstance;
/** Before the CREATE TABLESPACE (where a target's replay would stop), and after it. */
let before: string;
let after: string;
let start: string;

beforeAll(async () => {
  mkdirSync(live, { recursive: true });
  mkdirSync(wal, { recursive: true });
  await chownForServer(base);
  bin = await findBinaries();
  // the segments from the start on stay in pg_wal (checkpoints would recycle them)
  inst = await TempInstance.create({ bin, workDir: testWorkDir(), name: 'guard-end', noSync: true, settings: { wal_keep_size: '1GB' } });
  await inst.start();
  const lsn = async () => (await inst.query<{ l: string }>('select pg_current_wal_insert_lsn()::text as l')).rows[0]!.l;
  start = (await inst.query<{ l: string }>('select redo_lsn::text as l from pg_control_checkpoint()')).rows[0]!.l;
  await inst.query('create table t (id int)');
  before = await lsn();
  await inst.query(`create tablespace live location '${live}'`);
  after = await lsn();
  await inst.query('select pg_switch_wal()');
  await inst.stop();
  const pgWal = join(inst.dataDir, 'pg_wal');
  for (const f of readdirSync(pgWal)) if (/^[0-9A-F]{24}$/.test(f)) copyFileSync(join(pgWal, f), join(wal, f));
  await chownForServer(wal);
}, 120_000);

afterAll(async () => {
  await inst?.destroy();
  await runAllCleanups();
  rmSync(base, { recursive: true, force: true });
});

const guard = (laterEnd?: Promise<string | undefined>) => assertReplayLeavesTablespacesAlone(bin, { walDir: wal, startLsn: start, laterEnd, timeline: 1, label: 'the test backup' });

describe('replay guard without the end yet', () => {
  it('a CREATE after the target, once the end is known: nothing refused', async () => {
    await expect(guard(Promise.resolve(before))).resolves.toBeUndefined();
  });

  it('a CREATE before the target refuses; so does an end never found, or no end at all', async () => {
    await expect(guard(Promise.resolve(after))).rejects.toMatchObject({ code: 'REPLAY_WOULD_TOUCH_TABLESPACE' });
    await expect(guard(Promise.resolve(undefined))).rejects.toMatchObject({ code: 'REPLAY_WOULD_TOUCH_TABLESPACE' });
    const stopped = Promise.reject(new Error('scan stopped'));
    stopped.catch(() => {}); // as recover does: the guard reads it only when it needs it
    await expect(guard(stopped)).rejects.toMatchObject({ code: 'REPLAY_WOULD_TOUCH_TABLESPACE' });
    await expect(guard()).rejects.toMatchObject({ code: 'REPLAY_WOULD_TOUCH_TABLESPACE' });
  });
});
