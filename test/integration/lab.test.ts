// The lab, end to end on real PostgreSQL: every scenario builds and shows its
// defect, truth.json matches an independent PITR restore, probe finds and names
// each scenario's defect on the same lab (and verify short-retention's), lab down leaves no process and no
// file, bad input is refused. Small --scale keeps it short.
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
import { parseLsn } from '../../src/postgres/wal/lsn.js';
import { parseSegmentName, segnoOfLsn } from '../../src/postgres/wal/segments.js';
import { probeAll } from '../../src/sources/probe-all.js';
import type { ProbeResult } from '../../src/sources/types.js';
import { exitCodeFor, probeDocument } from '../../src/cli/actions/probe.js';
import { sleep } from '../../src/util/time.js';
import { cliArgs, undrop } from '../cli.js';
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

const by = (rs: ProbeResult[], kind: string) => rs.find((r) => r.kind === kind)!;
const codes = (r: ProbeResult) => r.findings.map((f) => f.code);

/** The CLI as one node process (no npx wrapper), so its pid is the CLI itself. */
function cli(args: string[]) {
  return execa(process.execPath, cliArgs(args), { reject: false, env: { NO_COLOR: '1' } });
}

describe('lab: happy scenario', () => {
  it('builds, runs the incident, and truth.json matches an independent PITR restore to the incident xid; probe: every source usable, in the full expected order (zero loss by kind, then the newer of the last dump and the snapshot)', async () => {
    const dir = newDir('happy');
    const up = await labUp({ dir, scale: SCALE, delay: '30min' });
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

    // probe of the lab's sources, right after the incident (its duration is logged, the bench measures speed);
    // a replica delay far above the 5 min under which probe warns of the time left (a non-default one: --delay is honoured)
    const target = { kind: 'time' as const, time: truth.incident.commitTime!, inclusive: false as const, origin: 'test' };
    const started = Date.now();
    const rep = await probeAll(inv, { target, tables: [{ schema: 'public', name: 'shipments' }] });
    console.log(`probe of the default lab (${rep.sources.length} sources): ${Date.now() - started} ms`);
    expect(rep.sources.map((r) => r.kind).sort()).toEqual(['delayed-replica', 'dump', 'pgbackrest', 'pitr', 'snapshot']);
    // Usable, all of them. The one honest exception depends on timing: a running delayed replica that has
    // already replayed the incident's lock records (its COMMIT still waits out the delay) is degraded by
    // exactly that warning, and by nothing else.
    for (const r of rep.sources) {
      const notInfo = r.findings.filter((f) => f.level !== 'info');
      const lockTrapOnly = r.kind === 'delayed-replica' && notInfo.length > 0 && notInfo.every((f) => f.code === 'REPLICA_LOCK_TRAP');
      expect(r.status, `${r.name}: ${JSON.stringify(notInfo)}`).toBe(lockTrapOnly ? 'degraded' : 'usable');
    }
    // The replica and the WAL-based sources reach the target; dumps and snapshots are older.
    const replica = by(rep.sources, 'delayed-replica');
    expect(replica.timeLeftMs).toBeGreaterThan(0);
    expect(replica.tables[0]).toMatchObject({ name: 'public.shipments', present: true, rowsKind: 'estimate' });
    for (const k of ['delayed-replica', 'pitr', 'pgbackrest']) expect(by(rep.sources, k).lossWindowMs, k).toBe(0);
    for (const k of ['snapshot', 'dump']) expect(by(rep.sources, k).lossWindowMs, k).toBeGreaterThan(0);
    // The lab's truth says which of the two older sources is newer: the last valid dump or the snapshot.
    const lastDump = Math.max(...truth.dumps.filter((d) => d.valid).map((d) => Date.parse(d.takenAt)));
    const snapshotAt = Math.max(...truth.snapshots.map((x) => Date.parse(x.takenAt)));
    const older = lastDump > snapshotAt ? ['dump', 'snapshot'] : ['snapshot', 'dump'];
    // Equal (zero) loss: usable before degraded, then the quickest kind first (replica, then PITR, then pgBackRest).
    const trapped = by(rep.sources, 'delayed-replica').status === 'degraded';
    const zeroLoss = trapped ? ['pitr', 'pgbackrest', 'delayed-replica'] : ['delayed-replica', 'pitr', 'pgbackrest'];
    expect(rep.ranking).toEqual([...zeroLoss, ...older].map((k) => by(rep.sources, k).name));
    const doc = probeDocument(rep) as { sources: { name: string; status: string }[]; ranking: string[] };
    expect(doc.ranking).toEqual(rep.ranking);
    expect(doc.sources.filter((x) => x.status !== 'usable').length).toBe(trapped ? 1 : 0);
    // --strict fails on a degraded source: the armed lock trap is worth a page.
    expect(exitCodeFor(rep, true)).toBe(trapped ? 3 : 0);

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
    expect(st.components.find((c) => c.kind === 'replica')?.detail).toMatch(/30min/);

    await downAndCheck(dir);
  }, 240_000);
});

describe('lab: failure scenarios show their defects', () => {
  it('short-retention: broken newest dumps, an old good dump, short WAL retention, a snapshot, no replica; probe: the error-text dumps are unusable, the old dump degraded by age; undrop verify restores every source and exits 3 because of them', async () => {
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

      const rep = await probeAll(await loadInventory(join(dir, 'undrop.yaml')), {});
      const dumps = by(rep.sources, 'dump');
      const unusable = dumps.items!.filter((i) => i.findings.some((f) => f.code === 'DUMP_ERROR_TEXT'));
      expect(unusable.length).toBeGreaterThanOrEqual(1);
      for (const b of unusable) expect(b.status).toBe('unusable');
      expect(unusable[0]!.findings[0]!.message).toContain('pg_dump: error');
      const old = dumps.items!.find((i) => i.findings.some((f) => f.code === 'TOO_OLD'));
      expect(old?.status).toBe('degraded');
      expect(dumps.status).not.toBe('usable');
      expect(exitCodeFor(rep, true)).toBe(3);

      // verify catches the silent failure before any incident: the dump source is unhealthy although an old dump still restores
      const r = await undrop(['--json', '-c', join(dir, 'undrop.yaml'), 'verify']);
      expect(r.exitCode, r.stderr.slice(-1500)).toBe(3);
      const doc = JSON.parse(r.stdout);
      expect(doc.healthy).toBe(false);
      const byName = Object.fromEntries(doc.sources.map((x: { name: string }) => [x.name, x]));
      expect(byName.dumps).toMatchObject({ ok: false, checked: 'restored', probeStatus: 'degraded' });
      expect(byName.dumps.problems.map((p: { code: string }) => p.code)).toContain('DUMP_ERROR_TEXT');
      // The failed check is the probe's (the newest dumps are error text); the old dump itself restored and passed the suite.
      expect(byName.dumps.checks.filter((c: { ok: boolean }) => !c.ok).map((c: { check: string }) => c.check)).toEqual(['probe']);
      expect(byName.dumps.checks.find((c: { check: string }) => c.check === 'restore').ok).toBe(true);
      expect(byName.dumps.tables.find((t: { name: string }) => t.name === 'public.shipments').rows).toBeGreaterThan(0);
      expect(byName.snapshot).toMatchObject({ ok: true, checked: 'restored' });
      expect(byName.snapshot.tables.length).toBeGreaterThanOrEqual(3);
      expect(byName.pitr.error).toBeUndefined();
      expect(byName.pitr.tables.find((t: { name: string }) => t.name === 'public.shipments').rows).toBeGreaterThan(0);
    } finally {
      await downAndCheck(dir);
    }
  }, 300_000);

  it('replica-too-late: the replica has no delay and replays the DROP at once; probe: that replica is unusable, ranked last', async () => {
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

      const rep = await probeAll(await loadInventory(join(dir, 'undrop.yaml')), {});
      const replica = by(rep.sources, 'delayed-replica');
      expect(replica.status).toBe('unusable');
      expect(codes(replica)).toContain('REPLICA_NO_DELAY');
      expect(rep.ranking[rep.ranking.length - 1]).toBe(replica.name);
    } finally {
      await downAndCheck(dir);
    }
  }, 120_000);

  it('wal-gap: one archived segment between the base backup and the incident is missing; probe names it and the last reachable time', async () => {
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

      const target = { kind: 'lsn' as const, commitLsn: truth.incident.commitLsn!, firstLsn: truth.incident.firstLsn!, time: truth.incident.commitTime!, inclusive: false as const, origin: 'test' };
      const rep = await probeAll(await loadInventory(join(dir, 'undrop.yaml')), { target });
      const pitr = by(rep.sources, 'pitr');
      const finding = pitr.findings.find((f) => f.code === 'WAL_GAP');
      expect(finding, JSON.stringify(pitr.findings)).toBeDefined();
      expect(finding!.message).toContain(seg);
      // The last reachable commit, always named: before the missing segment, after the newest base backup started, and it is the source's recovery point.
      const [, time, lsn] = /last reachable commit is (\S+) \(LSN ([0-9A-F]+\/[0-9A-F]+)\)/.exec(finding!.message) ?? [];
      expect(time, finding!.message).toBeDefined();
      expect(segnoOfLsn(lsn!)).toBeLessThan(parseSegmentName(seg).segno);
      const newestBackup = truth.baseBackups.filter((b) => b.startLsn).sort((a, b) => Number(parseLsn(b.startLsn!) - parseLsn(a.startLsn!)))[0]!;
      expect(parseLsn(lsn!) > parseLsn(newestBackup.startLsn!), `${lsn} after ${newestBackup.startLsn}`).toBe(true);
      expect(Date.parse(time!)).toBeLessThan(Date.parse(truth.incident.commitTime!));
      expect(pitr.recoveryPoint).toMatchObject({ time, lsn });
      // microseconds kept in the time, milliseconds in the window
      expect(Math.abs(pitr.lossWindowMs! - (Date.parse(truth.incident.commitTime!) - Date.parse(time!)))).toBeLessThanOrEqual(1);
    } finally {
      await downAndCheck(dir);
    }
  }, 120_000);

  it('dump-only: only dumps, the newest custom dump truncated halfway (its TOC still lists); probe flags it by size, and as truncated under --deep', async () => {
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
      // every dump its own file (two taken within one second once shared a name, the latest overwriting the nightly)
      expect(new Set(s.dumps.map((d) => d.path)).size).toBe(s.dumps.length);
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

      const shallow = by((await probeAll(inv, {})).sources, 'dump');
      const deep = by((await probeAll(inv, { deep: true })).sources, 'dump');
      const flagged = deep.items!.find((i) => i.findings.some((f) => f.code === 'DUMP_TRUNCATED'));
      expect(flagged, JSON.stringify(deep.items)).toBeDefined();
      expect(flagged!.status).toBe('unusable');
      const same = shallow.items!.find((i) => i.label === flagged!.label)!;
      expect(same.findings.map((f) => f.code)).toContain('DUMP_SIZE_DROP');
    } finally {
      await downAndCheck(dir);
    }
  }, 90_000);
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
    // up to 2 min for lab up to reach its workload step (60 s ran out on a machine at load 20)
    for (let i = 0; i < 480; i++) {
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
  }, 180_000);
});
