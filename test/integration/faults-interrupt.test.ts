// The fault matrix, interrupts: a real `undrop recover` on a lab after its
// incident, stopped by a real signal during the restore, the copy back and
// the promote (SIGINT, SIGTERM, SIGHUP, a second Ctrl-C). Each stop must exit
// 130 (SIGHUP 129), print where it stopped and where production stands, say
// whether the delayed replica is paused, write the incident report up to the
// stop, and leave no process and no temporary folder. A second run on the
// same work directory meets the lock naming the first.
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/load.js';
import { labDown } from '../../src/lab/down.js';
import { labIncident } from '../../src/lab/incident.js';
import { labLayout } from '../../src/lab/layout.js';
import { labUp } from '../../src/lab/up.js';
import { stopWorkload } from '../../src/lab/workload.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { connect, withClient } from '../../src/postgres/connect.js';
import { type ConnParams, resolveConnParams } from '../../src/postgres/conninfo.js';
import { undrop } from '../cli.js';
import { testWorkDir } from '../helpers.js';

const root = mkdtempSync(join(testWorkDir(), 'faults-'));
chmodSync(root, 0o755);
const dir = join(root, 'lab');
const cfg = join(dir, 'undrop.yaml');
const work = join(dir, 'work');
const TABLES = 'shipments,shipment_events,invoices';
let prod: ConnParams;
const secret = 'faults-secret-pw';

beforeAll(async () => {
  await labUp({ dir, scale: 1000, delay: '10min' });
  await labIncident({ dir });
  await stopWorkload(labLayout(dir)).catch(() => {});
  const inv = await loadInventory(cfg);
  prod = { ...resolveConnParams(inv.production.dsn), database: 'shipping' };
}, 600_000);

afterAll(async () => {
  await runAllCleanups();
  if (existsSync(dir)) await labDown(labLayout(dir)).catch(() => {});
  if (!existsSync(dir)) rmSync(root, { recursive: true, force: true });
});

interface Run {
  child: ResultPromise;
  stderr: () => string;
  /** Resolves once stderr matches. Fails loudly when the run ends first. */
  waitFor(re: RegExp): Promise<void>;
}

function start(args: string[], env: Record<string, string> = {}): Run {
  let err = '';
  // PGPASSWORD is a secret the run must never print or record.
  const child = execa(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { reject: false, stdin: 'ignore', env: { PGPASSWORD: secret, ...env }, timeout: 300_000 });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  let ended = false;
  void child.then(() => {
    ended = true;
  });
  return {
    child,
    stderr: () => err,
    async waitFor(re) {
      while (!re.test(err)) {
        if (ended) throw new Error(`the run ended before ${re}:\n${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

async function q<T extends pg.QueryResultRow = any>(sql: string, params: unknown[] = []): Promise<T[]> {
  return withClient(prod, async (c) => (await c.query<T>(sql, params)).rows);
}

const sideSchemas = async () => (await q<{ n: string }>("SELECT nspname AS n FROM pg_namespace WHERE nspname LIKE 'undrop\\_%' ORDER BY 1")).map((r) => r.n);
const liveShape = async () => q("SELECT c.relname, c.relfilenode FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1");

/** No process of the run and no server started from the work directory is alive; no folder is left in its instance area. */
async function expectNothingLeft(pid: number) {
  const ps = async () => (await execa('ps', ['-eo', 'pid=,args='])).stdout.split('\n');
  let left: string[] = [];
  for (let i = 0; i < 100; i++) {
    left = (await ps()).filter((l) => l.includes(join(work, 'instances')) || l.trim().startsWith(`${pid} `));
    if (left.length === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(left, 'processes left behind').toEqual([]);
  const area = join(work, 'instances');
  expect(existsSync(area) ? readdirSync(area) : [], 'temporary folders left behind').toEqual([]);
  expect(existsSync(join(work, 'undrop.lock')), 'the work directory lock is released').toBe(false);
}

/** The incident folder named on stderr: its report says where the run stopped; the timeline records the signal. */
function expectReport(stderr: string, step: RegExp, signal: string) {
  const folder = /Incident folder: (\S+)/.exec(stderr)?.[1];
  expect(folder, stderr).toBeTruthy();
  const report = readFileSync(join(folder!, 'report.md'), 'utf8');
  expect(report).toMatch(/\*\*failed\*\*/);
  expect(report).toMatch(step);
  const timeline = readFileSync(join(folder!, 'timeline.jsonl'), 'utf8');
  const interrupted = timeline.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((e) => e.type === 'interrupted');
  expect(interrupted).toMatchObject({ signal });
  for (const text of [report, timeline, stderr]) expect(text).not.toContain(secret);
}

describe('a signal during a recover run', () => {
  it('SIGINT during the restore (materialize): exit 130, the step named, nothing written, replica PAUSED line, report written, nothing left; a second run meanwhile meets the lock', async () => {
    const before = await liveShape();
    // An SSH session outside tmux: the long step gets a one-line warning first.
    const run = start(['-c', cfg, 'recover', '--tables', TABLES, '--source', 'auto', '--yes'], { SSH_CONNECTION: '10.0.0.1 5000 10.0.0.2 22', TMUX: '', STY: '', TERM: 'xterm' });
    await run.waitFor(/→ Extracting the tables/);
    expect(run.stderr()).toMatch(/not inside tmux or screen[^\n]*\n(.*\n)*→ Extracting/);

    const second = await undrop(['-c', cfg, 'recover', '--tables', TABLES, '--yes']);
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toContain(`error [WORK_DIR_BUSY]: Another undrop run is using the work directory ${work}: pid ${run.child.pid}`);
    expect(second.stderr).toContain(`recover --tables ${TABLES} --source auto --yes`);
    expect(second.stderr).toMatch(/^HINT: Wait for it to finish/m);

    run.child.kill('SIGINT');
    const r = await run.child;
    expect(r.exitCode, run.stderr()).toBe(130);
    const err = run.stderr();
    expect(err).toMatch(/Stopped \(SIGINT\) at step materialize/);
    expect(err).toContain('Production: nothing was changed.');
    expect(err).toMatch(/Delayed replica delayed-replica is PAUSED \(undrop paused it\); resume replay when the data is safe: psql/);
    expect(err).not.toMatch(/INTERNAL|this is a bug|at .*\.ts:\d+/);
    expectReport(err, /Stopped \(SIGINT\) at step materialize/, 'SIGINT');
    await expectNothingLeft(run.child.pid!);
    expect(await sideSchemas()).toEqual([]);
    expect(await liveShape()).toEqual(before);
  });

  it('SIGTERM during the copy back: exit 130, no side schema (the transaction rolled back), report written, nothing left', async () => {
    const run = start(['-c', cfg, 'recover', '--tables', TABLES, '--source', 'pitr', '--yes']);
    await run.waitFor(/→ Copying back into production/);
    run.child.kill('SIGTERM');
    const r = await run.child;
    expect(r.exitCode, run.stderr()).toBe(130);
    const err = run.stderr();
    const folder = /Incident folder: (\S+)/.exec(err)![1]!;
    const timeline = readFileSync(join(folder, 'timeline.jsonl'), 'utf8');
    // Production as the timeline says: a copy back that committed is recorded; otherwise nothing is there.
    const committed = timeline.includes('"production after copy back (commit)"');
    if (committed) expect(err).toMatch(/copied into side schema undrop_\S+ \(committed\)/);
    else {
      expect(err).toMatch(/Stopped \(SIGTERM\) at step copy back/);
      expect(err).toContain('the copy back transaction was not committed');
      expect(await sideSchemas()).toEqual([]);
    }
    expectReport(err, /Stopped \(SIGTERM\)/, 'SIGTERM');
    expect(err).toContain('No delayed replica was paused by this run.');
    await expectNothingLeft(run.child.pid!);
  });

  it('SIGHUP (the SSH session dropped) while promote waits for a live table: exit 129, the side schema committed, live tables unchanged, nothing left', async () => {
    const before = await liveShape();
    const holder = await connect(prod, { applicationName: 'faults lock holder' });
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE public.shipments IN ACCESS SHARE MODE');
      const run = start(['-c', cfg, 'recover', '--tables', TABLES, '--source', 'pitr', '--mode', 'replace', '--lock-timeout', '120000', '--yes']);
      // Promote is waiting for its lock once production shows it so.
      for (;;) {
        const waiting = await q("SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'undrop promote%' AND wait_event_type = 'Lock'");
        if (waiting.length) break;
        if (run.child.exitCode !== null) throw new Error(`the run ended before promote waited:\n${run.stderr()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      run.child.kill('SIGHUP');
      const r = await run.child;
      expect(r.exitCode, run.stderr()).toBe(129);
      const err = run.stderr();
      expect(err).toMatch(/Stopped \(SIGHUP: the terminal went away\) at step promote \(replace\)/);
      expect(err).toMatch(/copied into side schema (undrop_\S+) \(committed\); the promote transaction was not committed, so PostgreSQL rolls it back: nothing live was changed/);
      expectReport(err, /at step promote \(replace\)/, 'SIGHUP');
      await expectNothingLeft(run.child.pid!);
      expect((await sideSchemas()).length).toBe(1);
    } finally {
      await holder.query('ROLLBACK').catch(() => {});
      await holder.end();
    }
    expect(await liveShape()).toEqual(before);
    for (const s of await sideSchemas()) await q(`DROP SCHEMA "${s}" CASCADE`);
  });

  it('a second Ctrl-C stops at once and still removes everything', async () => {
    const run = start(['-c', cfg, 'recover', '--tables', TABLES, '--source', 'pitr', '--yes']);
    await run.waitFor(/→ Extracting the tables/);
    run.child.kill('SIGINT');
    await run.waitFor(/SIGINT: stopping/);
    run.child.kill('SIGINT');
    const r = await run.child;
    expect(r.exitCode, run.stderr()).toBe(130);
    expectReport(run.stderr(), /Stopped \(SIGINT\)/, 'SIGINT');
    await expectNothingLeft(run.child.pid!);
    expect(await sideSchemas()).toEqual([]);
  });
});
