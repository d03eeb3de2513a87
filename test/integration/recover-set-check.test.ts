// A wrong --set is refused right after the probe, before confirm and
// materialize: an unknown label (exit 2, naming the known ones) and a dump
// the probe found unusable (exit 1, the probe's reason). No temporary
// instance is started, nothing is written, nothing is left behind. And the
// mechanism that lets a failed run stop its alongside WAL scan instead of
// waiting for it (cleanup.ts stoppable): the scan's programs and folders go.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBinaries } from '../../src/postgres/binaries.js';
import { runAllCleanups, stoppable } from '../../src/postgres/cleanup.js';
import { TempInstance } from '../../src/postgres/instance.js';
import { runProgram } from '../../src/postgres/run.js';
import { makeStage } from '../../src/postgres/work-dir.js';
import { undrop } from '../cli.js';
import { expectFailedRun } from '../fault-checks.js';
import { testWorkDir } from '../helpers.js';

const base = join(testWorkDir(), `setcheck-${process.pid}`);
let prod: TempInstance;
let cfg: string;
let broken: string;

const sideSchemas = async () => (await prod.query<{ n: string }>("SELECT nspname AS n FROM pg_namespace WHERE nspname LIKE 'undrop%' OR nspname = 'pinned'", [], 'shop')).rows.map((r) => r.n);

beforeAll(async () => {
  mkdirSync(base, { recursive: true });
  const bin = await findBinaries();
  prod = await TempInstance.create({ bin, workDir: testWorkDir(), name: 'setcheck-prod', noSync: true });
  await prod.start();
  await prod.query('CREATE DATABASE shop');
  await prod.query('CREATE TABLE parcels (id int PRIMARY KEY); INSERT INTO parcels SELECT generate_series(1, 100)', [], 'shop');
  const c = prod.connParams('shop');
  const dumps = join(base, 'dumps');
  mkdirSync(dumps);
  await execa(join(bin.dir, 'pg_dump'), ['-Fc', '-h', c.host!, '-p', String(c.port), '-U', c.user ?? 'postgres', '-f', join(dumps, 'nightly.dump'), 'shop']);
  // A custom-format header and nothing pg_restore can read after it.
  broken = join(dumps, 'broken.dump');
  writeFileSync(broken, Buffer.concat([Buffer.from('PGDMP'), Buffer.alloc(4096, 0x5a)]));
  cfg = join(base, 'undrop.yaml');
  writeFileSync(cfg, `production:\n  dsn: "host=${c.host} port=${c.port} user=${c.user ?? 'postgres'} dbname=shop"\nsources:\n  - name: nightly\n    kind: dump\n    paths: ["${dumps}/*.dump"]\n`);
}, 120_000);

afterAll(async () => {
  await prod?.destroy();
  await runAllCleanups();
  rmSync(base, { recursive: true, force: true });
});

const recover = (work: string, set: string) => undrop(['-c', cfg, '--work-dir', work, 'recover', '--tables', 'parcels', '--source', 'nightly', '--target', 'latest', '--set', set, '--schema', 'pinned', '--yes']);

/** The run stopped at the --set check: no materialize step, no temporary instance. */
function expectNoMaterialize(timeline: Record<string, unknown>[], stderr: string): void {
  expect(timeline.filter((e) => e.type === 'step-start').map((e) => e.step)).not.toContain('materialize');
  expect(timeline.find((e) => e.type === 'step-failed')).toMatchObject({ step: 'check the pinned set (--set)' });
  expect(stderr).not.toMatch(/Extracting the tables|temporary instance/);
}

describe('recover --set, checked right after the probe', () => {
  it('the probe marks the broken dump unusable and keeps the good one usable', async () => {
    const r = await undrop(['-c', cfg, '--json', 'probe', '--tables', 'parcels']);
    expect(r.exitCode, r.stderr).toBe(0);
    const items = JSON.parse(r.stdout).sources[0].items as { label: string; status: string }[];
    expect(Object.fromEntries(items.map((i) => [i.label, i.status]))).toMatchObject({ 'nightly.dump': 'usable', 'broken.dump': 'unusable' });
  });

  it('an unknown label: exit 2 naming the dumps there are; nothing started, written or left', async () => {
    const work = join(base, 'work-unknown');
    const r = await recover(work, 'no-such.dump');
    const { timeline } = await expectFailedRun(r, { exitCode: 2, code: 'SET_UNKNOWN', message: /^--set no-such\.dump: source "nightly" has no backup, dump or snapshot of that name\.$/, hint: /Known: (nightly\.dump, broken\.dump|broken\.dump, nightly\.dump) \(`undrop probe` lists them\)\./, work, sideSchemas, step: 'check the pinned set (--set)' });
    expectNoMaterialize(timeline, r.stderr);
  });

  it('a dump the probe found unusable: exit 1 with the probe\'s reason; nothing started, written or left', async () => {
    const work = join(base, 'work-broken');
    const r = await recover(work, 'broken.dump');
    const { timeline } = await expectFailedRun(r, { exitCode: 1, code: 'DUMP_INVALID', message: new RegExp(`^Dump ${broken.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(--set broken\\.dump\\) cannot be used: `), hint: /Choose another dump with --set/, work, sideSchemas, step: 'check the pinned set (--set)' });
    expectNoMaterialize(timeline, r.stderr);
  });

  it('the good dump pinned by its path goes on to restore it', async () => {
    const work = join(base, 'work-good');
    const r = await undrop(['-c', cfg, '--work-dir', work, '--json', 'recover', '--tables', 'parcels', '--source', 'nightly', '--target', 'latest', '--set', join(base, 'dumps', 'nightly.dump'), '--schema', 'pinned', '--yes']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).tables).toMatchObject([{ name: 'public.parcels', rows: 100 }]);
    expect(Number((await prod.query<{ n: string }>('SELECT count(*) AS n FROM pinned.parcels', [], 'shop')).rows[0]!.n)).toBe(100);
    await prod.query('DROP SCHEMA pinned CASCADE', [], 'shop');
  });
});

describe('stopping work that runs alongside (the WAL scan of a run that failed)', () => {
  it('stop() kills its programs (and what runs under them) and removes its folders; a program it starts afterwards is stopped at once', async () => {
    const work = join(base, 'work-stop');
    mkdirSync(work, { recursive: true });
    let folder = '';
    const marker = `${process.pid}${Date.now() % 100000}`;
    const scan = stoppable(async () => {
      folder = await makeStage(work, 'scan');
      // as a restore_command runs: runuser → sh → the program, which must not be orphaned
      await runProgram('sh', ['-c', `sleep ${marker}1; true`], { asServerUser: true, allowFailure: true });
      // what the scan does when its program fails: try another way, which must not run either
      await runProgram('sleep', [`${marker}2`], { allowFailure: true });
      return 'ended';
    });
    const alive = async () => (await execa('ps', ['-eo', 'args='])).stdout.split('\n').filter((l) => l.includes(`sleep ${marker}`));
    const running = async () => (await alive()).some((l) => l.startsWith('sleep '));
    for (let i = 0; i < 200 && !(await running()); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await running()).toBe(true);
    expect(existsSync(folder)).toBe(true);
    await scan.stop();
    expect(await scan.done).toBe('ended');
    expect(await alive(), 'processes left behind').toEqual([]);
    expect(existsSync(folder), 'folder left behind').toBe(false);
  });
});
