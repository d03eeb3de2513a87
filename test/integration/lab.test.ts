// The lab, end to end on real PostgreSQL: every scenario builds and shows its
// defect, truth.json matches an independent PITR restore, lab down leaves no
// process and no file, bad input is refused. Small --scale keeps it short.
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { isUndropError } from '../../src/errors.js';
import { loadInventory } from '../../src/inventory/load.js';
import { findBinaries } from '../../src/postgres/binaries.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { withClient } from '../../src/postgres/connect.js';
import { TempInstance, readPostmasterPid } from '../../src/postgres/instance.js';
import { runProgram } from '../../src/postgres/run.js';
import { LOST_TABLES } from '../../src/lab/dataset.js';
import { labDown } from '../../src/lab/down.js';
import { labIncident } from '../../src/lab/incident.js';
import { labLayout, restoreCommand } from '../../src/lab/layout.js';
import { isAlive } from '../../src/lab/processes.js';
import { readState, type LabState } from '../../src/lab/state.js';
import { labStatus } from '../../src/lab/status.js';
import { tablesChecksums } from '../../src/lab/truth.js';
import { labUp } from '../../src/lab/up.js';
import { sleep } from '../../src/util/time.js';
import { cliArgs } from '../cli.js';
import { testWorkDir, waitUntil } from '../helpers.js';

const SCALE = 2000;
const dirs: string[] = [];
const root = mkdtempSync(join(testWorkDir(), 'lab-'));
// mkdtemp makes it 0700; the postgres OS user must be able to reach the labs inside.
chmodSync(root, 0o755);

function newDir(name: string): string {
  const d = join(root, name);
  dirs.push(d);
  return d;
}

/** Every pid the lab recorded or that its data directories name. */
function labPids(state: LabState): number[] {
  const pids = [state.workload?.pid, state.primary?.pid, state.replica?.pid];
  for (const d of [state.primary?.dataDir, state.replica?.dataDir]) if (d) pids.push(readPostmasterPid(d));
  return pids.filter((p): p is number => typeof p === 'number');
}

async function downAndCheck(dir: string): Promise<void> {
  const layout = labLayout(dir);
  const state = await readState(layout);
  await labDown(layout);
  expect(existsSync(dir)).toBe(false);
  if (state) {
    for (const pid of labPids(state)) expect(isAlive(pid), `pid ${pid} still alive`).toBe(false);
    if (state.socketDirOutside) expect(existsSync(state.socketDir)).toBe(false);
  }
}

afterAll(async () => {
  for (const d of dirs) {
    if (existsSync(d)) await labDown(labLayout(d)).catch(() => {});
  }
  await runAllCleanups();
  await execa('rm', ['-rf', root]);
});

/** The CLI as one node process (no npx wrapper), so its pid is the CLI itself. */
function cli(args: string[]) {
  return execa(process.execPath, cliArgs(args), { reject: false, env: { NO_COLOR: '1' } });
}

describe('lab: happy scenario', () => {
  it('builds, runs the incident, and truth.json matches an independent PITR restore to the incident xid', async () => {
    const dir = newDir('happy');
    const up = await labUp({ dir, scale: SCALE, delay: '2min' });
    const s = up.state;
    expect(s.state).toBe('up');
    expect(s.primary && s.replica && s.workload && s.pgbackrest).toBeTruthy();
    expect(s.baseBackups.map((b) => b.format)).toEqual(['plain', 'tar']);
    expect(existsSync(join(s.baseBackups[1]!.path, 'base.tar.gz'))).toBe(true);
    for (const b of s.baseBackups) expect(existsSync(join(b.path, 'backup_manifest'))).toBe(true);
    expect(s.snapshots).toHaveLength(1);
    expect(existsSync(join(s.snapshots[0]!.path, 'PG_VERSION'))).toBe(true);
    expect(s.dumps.filter((d) => d.format === 'custom')).toHaveLength(2);
    expect(s.dumps.filter((d) => d.format === 'plain')).toHaveLength(1);

    // the inventory is valid and names every source
    const inv = await loadInventory(join(dir, 'undrop.yaml'));
    expect(inv.sources.map((x) => x.kind).sort()).toEqual(['delayed-replica', 'dump', 'pgbackrest', 'pitr', 'snapshot']);

    // a second lab up on a running lab says so (exit 2)
    const again = await labUp({ dir, scale: SCALE }).catch((e: unknown) => e);
    expect(isUndropError(again) && again.code).toBe('LAB_RUNNING');
    expect(isUndropError(again) && again.exitCode).toBe(2);

    const { truth } = await labIncident({ dir });
    expect(truth.incident.commitLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(truth.incident.firstLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(truth.incident.commitTime).toBeTruthy();
    expect(truth.beforeIncident.tables['public.shipments']!.rows).toBeGreaterThanOrEqual(SCALE);
    expect(truth.beforeIncident.tables['public.shipment_events']!.rows).toBeGreaterThanOrEqual(SCALE * 1.5);

    // the workload keeps writing into the recreated tables
    const bin = await findBinaries();
    const conn = { host: s.socketDir, port: s.primary!.port, user: 'postgres', database: 'shipping' };
    let after = 0;
    for (let i = 0; i < 30 && after === 0; i++) {
      await sleep(500);
      after = Number((await withClient(conn, (c) => c.query<{ n: string }>('select count(*) as n from shipments'))).rows[0]!.n);
    }
    expect(after).toBeGreaterThan(0);

    // independent check: plain base backup + archive, stop before the incident xid, promote
    const pitr = await TempInstance.fromDataDir(s.baseBackups[0]!.path, {
      bin,
      workDir: testWorkDir(),
      name: 'lab-pitr-check',
      recovery: 'recovery',
      settings: { restore_command: restoreCommand(s.archive!), recovery_target_xid: truth.incident.xid, recovery_target_inclusive: false, recovery_target_action: 'promote' },
    });
    try {
      await pitr.start();
      await waitUntil('the PITR check instance to finish recovery and promote', async () => !(await pitr.query<{ rec: boolean }>('select pg_is_in_recovery() as rec')).rows[0]!.rec, { tries: 240, everyMs: 250 });
      const got = await withClient(pitr.connParams('shipping'), (c) => tablesChecksums(c, LOST_TABLES));
      expect(got).toEqual(truth.beforeIncident.tables);
      const counts = await pitr.query<{ a: string; b: string; c: string }>('select (select count(*) from shipments) a, (select count(*) from shipment_events) b, (select count(*) from invoices) c', [], 'shipping');
      expect(Number(counts.rows[0]!.a)).toBe(truth.beforeIncident.tables['public.shipments']!.rows);
      expect(Number(counts.rows[0]!.b)).toBe(truth.beforeIncident.tables['public.shipment_events']!.rows);
      expect(Number(counts.rows[0]!.c)).toBe(truth.beforeIncident.tables['public.invoices']!.rows);
      expect(pitr.logTail(200).join('\n')).toMatch(new RegExp(`recovery stopping before commit of transaction ${truth.incident.xid}`));
    } finally {
      await pitr.destroy();
    }

    // the snapshot's recorded truth matches the snapshot itself (started as a copy)
    const snap = await TempInstance.fromDataDir(s.snapshots[0]!.path, { bin, workDir: testWorkDir(), name: 'lab-snap-check' });
    try {
      await snap.start();
      const got = await withClient(snap.connParams('shipping'), (c) => tablesChecksums(c, LOST_TABLES));
      expect(got).toEqual(s.snapshots[0]!.tables);
    } finally {
      await snap.destroy();
    }

    const st = await labStatus({ dir });
    expect(st.state).toBe('incident');
    expect(st.healthy).toBe(true);
    expect(st.components.find((c) => c.kind === 'replica')?.detail).toMatch(/2min/);

    await downAndCheck(dir);
  }, 180_000);
});

describe('lab: failure scenarios show their defects', () => {
  it('short-retention: broken newest dumps, an old good dump, short WAL retention, a snapshot, no replica', async () => {
    const dir = newDir('retention');
    const { state: s } = await labUp({ dir, scenario: 'short-retention', scale: SCALE });
    try {
      expect(s.replica).toBeNull();
      expect(s.snapshots).toHaveLength(1);
      const broken = s.dumps.filter((d) => d.defect === 'broken-dump');
      expect(broken).toHaveLength(2);
      for (const b of broken) {
        const text = readFileSync(b.path, 'utf8');
        expect(text.startsWith('pg_dump: error:')).toBe(true);
        expect(text).toMatch(/password authentication failed/);
        expect(statSync(b.path).size).toBeLessThan(200);
      }
      const good = s.dumps.filter((d) => d.valid);
      expect(good.length).toBeGreaterThan(0);
      for (const g of good) {
        const ageDays = (Date.now() - statSync(g.path).mtimeMs) / 86_400_000;
        expect(ageDays).toBeGreaterThan(2.9);
        // the broken ones are newer than the last good one
        for (const b of broken) expect(statSync(b.path).mtimeMs).toBeGreaterThan(statSync(g.path).mtimeMs);
      }
      // the older (plain) base backup's first segment was cleaned out of the archive
      const plain = s.baseBackups.find((b) => b.format === 'plain')!;
      const tar = s.baseBackups.find((b) => b.format === 'tar')!;
      const archived = readdirSync(s.archive!);
      expect(archived).not.toContain(plain.startWalFile);
      expect(archived).toContain(tar.startWalFile);
      expect(s.defects.map((d) => d.code)).toContain('archive-retention');
    } finally {
      await downAndCheck(dir);
    }
  }, 90_000);

  it('replica-too-late: the replica has no delay and replays the DROP at once', async () => {
    const dir = newDir('too-late');
    const { state: s } = await labUp({ dir, scenario: 'replica-too-late', scale: SCALE });
    try {
      const conn = { host: s.socketDir, port: s.replica!.port, user: 'postgres', database: 'shipping' };
      const delay = await withClient(conn, (c) => c.query<{ d: string }>("select current_setting('recovery_min_apply_delay') as d"));
      expect(delay.rows[0]!.d).toBe('0');
      const { truth } = await labIncident({ dir });
      let rows = Infinity;
      for (let i = 0; i < 40 && rows >= truth.beforeIncident.tables['public.shipments']!.rows; i++) {
        await sleep(250);
        rows = Number((await withClient(conn, (c) => c.query<{ n: string }>('select count(*) as n from shipments'), { lockTimeoutMs: 1000 }).catch(() => ({ rows: [{ n: 'Infinity' }] }))).rows[0]!.n);
      }
      expect(rows).toBeLessThan(truth.beforeIncident.tables['public.shipments']!.rows);
    } finally {
      await downAndCheck(dir);
    }
  }, 90_000);

  it('wal-gap: one archived segment between the base backup and the incident is missing', async () => {
    const dir = newDir('wal-gap');
    await labUp({ dir, scenario: 'wal-gap', scale: SCALE, delay: '2min' });
    try {
      const { truth } = await labIncident({ dir });
      const gap = truth.defects.find((d) => d.code === 'wal-gap');
      expect(gap).toBeTruthy();
      const s = (await readState(labLayout(dir)))!;
      const seg = gap!.path!.split('/').pop()!;
      expect(existsSync(join(s.archive!, seg))).toBe(false);
      const newestBase = s.baseBackups[s.baseBackups.length - 1]!;
      expect(seg > newestBase.startWalFile!).toBe(true);
      expect(seg < truth.incident.walFile!).toBe(true);
      // the segments around it are there
      const names = readdirSync(s.archive!).filter((n) => /^[0-9A-F]{24}$/.test(n));
      expect(names.some((n) => n > seg)).toBe(true);
      expect(names.some((n) => n < seg)).toBe(true);
    } finally {
      await downAndCheck(dir);
    }
  }, 90_000);

  it('dump-only: only dumps, the newest custom dump truncated halfway (its TOC still lists)', async () => {
    const dir = newDir('dump-only');
    const { state: s } = await labUp({ dir, scenario: 'dump-only', scale: SCALE });
    try {
      expect(s.replica).toBeNull();
      expect(s.archive).toBeNull();
      expect(s.baseBackups).toHaveLength(0);
      expect(s.snapshots).toHaveLength(0);
      expect(s.pgbackrest).toBeNull();
      const inv = await loadInventory(join(dir, 'undrop.yaml'));
      expect(inv.sources.map((x) => x.kind)).toEqual(['dump']);
      const truncated = s.dumps.find((d) => d.defect === 'truncated')!;
      expect(truncated).toBeTruthy();
      expect(statSync(truncated.path).size).toBe(truncated.bytes);
      const bin = await findBinaries();
      const list = await runProgram(bin.path('pg_restore'), ['-l', truncated.path], { allowFailure: true });
      expect(list.exitCode).toBe(0);
      const read = await runProgram(bin.path('pg_restore'), ['-f', '/dev/null', truncated.path], { allowFailure: true });
      expect(read.exitCode).not.toBe(0);
      const older = s.dumps.find((d) => d.format === 'custom' && d.valid)!;
      expect((await runProgram(bin.path('pg_restore'), ['-f', '/dev/null', older.path], { allowFailure: true })).exitCode).toBe(0);
    } finally {
      await downAndCheck(dir);
    }
  }, 60_000);
});

describe('lab: bad input and crashes', () => {
  it('refuses a non-empty folder that is not a lab (exit 2), for up and for down', async () => {
    const dir = newDir('not-a-lab');
    await mkdir(dir, { recursive: true });
    writeFileSync(join(dir, 'precious.txt'), 'keep me');
    const up = await cli(['lab', 'up', '--dir', dir, '--scale', '500']);
    expect(up.exitCode).toBe(2);
    expect(up.stderr).toMatch(/LAB_DIR_NOT_EMPTY/);
    expect(up.stderr).not.toMatch(/\n\s+at /);
    const down = await cli(['lab', 'down', '--dir', dir]);
    expect(down.exitCode).toBe(2);
    expect(readFileSync(join(dir, 'precious.txt'), 'utf8')).toBe('keep me');
    const badScale = await cli(['lab', 'up', '--dir', join(root, 'x'), '--scale', '5']);
    expect(badScale.exitCode).toBe(2);
    const badScenario = await cli(['lab', 'up', '--dir', join(root, 'x'), '--scenario', 'nope']);
    expect(badScenario.exitCode).toBe(2);
    expect(badScenario.stderr).toMatch(/SCENARIO_UNKNOWN/);
  }, 60_000);

  it('lab down cleans up after lab up was killed halfway', async () => {
    const dir = newDir('crashed');
    const child = cli(['lab', 'up', '--dir', dir, '--scale', String(SCALE)]);
    const layout = labLayout(dir);
    let state: LabState | undefined;
    for (let i = 0; i < 240; i++) {
      await sleep(250);
      state = await readState(layout).catch(() => undefined);
      if (state?.workload) break;
    }
    expect(state?.workload).toBeTruthy();
    // a crash: no chance to clean up
    child.kill('SIGKILL');
    await child;
    const s = (await readState(layout))!;
    expect(isAlive(s.workload!.pid)).toBe(true);
    expect(isAlive(readPostmasterPid(s.primary!.dataDir))).toBe(true);
    await downAndCheck(dir);
    // and lab down on a lab whose processes are gone already (or no lab at all) is fine
    const again = await labDown(layout);
    expect(again.existed).toBe(false);
  }, 90_000);
});
