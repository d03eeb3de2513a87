// The fault matrix, interrupts: a real `undrop recover` on a lab after its
// incident, stopped by a real signal during the restore, the copy back and
// the promote (SIGINT, SIGTERM, SIGHUP, a second Ctrl-C). Each stop must exit
// 130 (SIGHUP 129), print where it stopped and where production stands, say
// whether the delayed replica is paused, write the incident report up to the
// stop, and leave no process and no temporary folder. A second run on the
// same work directory meets the lock naming the first.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { labLayout } from '../../src/lab/layout.js';
import { readState } from '../../src/lab/state.js';
import { stopWorkload } from '../../src/lab/workload.js';
import { connect, withClient } from '../../src/postgres/connect.js';
import { type ConnParams } from '../../src/postgres/conninfo.js';
import { cliArgs, undrop } from '../cli.js';
import { REPLAY_SOURCES, useLab } from '../helpers/lab.js';

const lab = useLab({ name: 'faults', scale: 1000, delay: '10min', components: REPLAY_SOURCES });
const { dir, cfg } = lab;
const work = join(dir, 'work');
const TABLES = 'shipments,shipment_events,invoices';
let prod: ConnParams;
const secret = 'faults-secret-pw';

beforeAll(async () => {
  // The workload stopped (by its pid; the layout was passed before, which stopped nothing).
  const state = await readState(labLayout(dir));
  if (state?.workload) await stopWorkload(state.workload.pid);
  prod = lab.prod;
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
  const child = execa(process.execPath, cliArgs(args), { reject: false, stdin: 'ignore', env: { PGPASSWORD: secret, ...env }, timeout: 300_000 });
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

/** Until production shows the run's session waiting for a lock (fails loudly when the run ends first). */
async function waitInProduction(run: Run, application: string) {
  for (;;) {
    const waiting = await q('SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = $2', [application, 'Lock']);
    if (waiting.length) return;
    if (run.child.exitCode !== null) throw new Error(`the run ended before ${application} waited for a lock:\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
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
  it('SIGINT during the restore (materialize): exit 130, the step named, nothing written, replica PAUSED line, report written, nothing left', async () => {
    const before = await liveShape();
    // An SSH session outside tmux: the long step gets a one-line warning first.
    const run = start(['-c', cfg, 'recover', '--tables', TABLES, '--source', 'auto', '--yes'], { SSH_CONNECTION: '10.0.0.1 5000 10.0.0.2 22', TMUX: '', STY: '', TERM: 'xterm' });
    await run.waitFor(/→ Extracting the tables/);
    expect(run.stderr()).toMatch(/not inside tmux or screen[^\n]*\n(.*\n)*→ Extracting/);


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
    // Another session creating the same schema name holds the copy back in its transaction until we signal.
    const holder = await connect(prod, { applicationName: 'faults schema holder' });
    await holder.query('BEGIN');
    await holder.query('CREATE SCHEMA undrop_held');
    const run = start(['-c', cfg, 'recover', '--tables', TABLES, '--source', 'pitr', '--schema', 'undrop_held', '--yes']);
    try {
      await waitInProduction(run, 'undrop copy back');
    } finally {
      run.child.kill('SIGTERM');
      await holder.query('ROLLBACK').catch(() => {});
      await holder.end();
    }
    const r = await run.child;
    expect(r.exitCode, run.stderr()).toBe(130);
    const err = run.stderr();
    const folder = /Incident folder: (\S+)/.exec(err)![1]!;
    const timeline = readFileSync(join(folder, 'timeline.jsonl'), 'utf8');
    // Production as the timeline says: a copy back that committed is recorded; otherwise nothing is there.
    const committed = timeline.includes('"production after copy back (commit)"');
    if (committed) {
      // the publish landed after the signal (its lock was released as the signal arrived): said as committed
      expect(err).toMatch(/copied into side schema undrop_held \(committed\)/);
      expect(await sideSchemas()).toEqual(['undrop_held']);
      await q('DROP SCHEMA undrop_held CASCADE');
    } else {
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
      const run = start(['-c', cfg, 'recover', '--tables', TABLES, '--source', 'pitr', '--mode', 'replace', '--lock-timeout', '2min', '--yes']);
      await waitInProduction(run, 'undrop promote (replace)');
      // Meanwhile a second run on the same work directory meets the lock, naming this one.
      const second = await undrop(['-c', cfg, 'recover', '--tables', TABLES, '--yes']);
      expect(second.exitCode, second.stderr).toBe(1);
      expect(second.stderr).toContain(`error [WORK_DIR_BUSY]: Another undrop run is using the work directory ${work}: pid ${run.child.pid}`);
      expect(second.stderr).toContain(`recover --tables ${TABLES} --source pitr --mode replace --lock-timeout 2min --yes`);
      expect(second.stderr).toMatch(/^HINT: Wait for it to finish/m);
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

/**
 * The guided flow on a real terminal (script(1) gives it a pty): answer each
 * question in turn (wait for its text, type the keys); the last answer is
 * usually Ctrl-C. Fails loudly when a question never comes.
 */
async function onTerminal(args: string[], answers: [RegExp, string][]) {
  const cmd = [process.execPath, ...cliArgs(args)].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  // A pty of size 0x0 makes the spinner redraw forever: give it a real terminal's size.
  const child = execa('script', ['-qfec', `stty cols 120 rows 40; ${cmd}`, '/dev/null'], { reject: false, stdin: 'pipe', env: { PGPASSWORD: secret, TERM: 'xterm' }, timeout: 300_000 });
  let out = '';
  let next = 0;
  let seenUpTo = 0;
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    const [re, keys] = answers[next] ?? [];
    if (re && re.test(out.slice(seenUpTo))) {
      seenUpTo = out.length;
      next++;
      setTimeout(() => child.stdin!.write(keys!), 300);
    }
  });
  // A question that never comes must fail the test, not hang it (and keep the work directory locked).
  const giveUp = setTimeout(() => child.kill('SIGINT'), 90_000);
  const r = await child;
  clearTimeout(giveUp);
  // eslint-disable-next-line no-control-regex
  const text = out.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
  expect(next, `questions answered (of ${answers.length}):\n${text}`).toBe(answers.length);
  return { exitCode: r.exitCode, text };
}

describe('Ctrl-C at a question of the guided flow', () => {
  it('at the first question (what was lost; the replica was paused before any question): exit 130, nothing changed, the PAUSED line and the report', async () => {
    const r = await onTerminal(['-c', cfg], [[/What was lost\?/, '\x03']]);
    expect(r.text).not.toMatch(/INTERNAL|this is a bug/);
    expect(r.exitCode, r.text).toBe(130);
    expect(r.text).toContain('error [INTERRUPTED]: Stopped (Ctrl-C at a question). Production: nothing was changed.');
    expect(r.text).toMatch(/Delayed replica delayed-replica is PAUSED/);
    expect(r.text).toMatch(/Incident report: \S+report\.md/);
    expect(await sideSchemas()).toEqual([]);
    await expectNothingLeft(-1);
  });

  it('at the last question of the guided flow (after the side schema was verified): exit 130, says the side schema is committed and how to promote later', async () => {
    const before = await liveShape();
    const r = await onTerminal(['-c', cfg], [[/What was lost\?/, '\r'], [/Recover from which source\?/, '\r'], [/Copy .* into/, 'y\r'], [/Bring them into the live tables\?/, '\x03']]);
    expect(r.exitCode, r.text).toBe(130);
    expect(r.text).toMatch(/error \[INTERRUPTED\]: Stopped at the last question \(Ctrl-C\)\. Production: the recovered tables are in side schema (undrop_\S+) \(committed, verified\); nothing live was changed\./);
    expect(r.text).toMatch(/HINT: When ready: undrop promote --schema undrop_\S+ --mode merge\|replace/);
    expect(await liveShape()).toEqual(before);
    await expectNothingLeft(-1);
    for (const sch of await sideSchemas()) await q(`DROP SCHEMA "${sch}" CASCADE`);
  });

  it('at the copy confirmation (after probing): exit 130, nothing changed', async () => {
    const r = await onTerminal(['-c', cfg, 'recover', '--tables', TABLES], [[/Recover from which source/, '\r'], [/Copy .* into/, '\x03']]);
    expect(r.exitCode, r.text).toBe(130);
    expect(r.text).toContain('Stopped (Ctrl-C at a question). Production: nothing was changed.');
    expect(await sideSchemas()).toEqual([]);
    await expectNothingLeft(-1);
  });

  it('at the promote question (after the copy back): exit 130, says the side schema was committed and nothing live changed', async () => {
    const before = await liveShape();
    const r = await onTerminal(['-c', cfg, 'recover', '--tables', TABLES, '--source', 'pitr', '--mode', 'replace'], [[/Copy .* into/, 'y\r'], [/Replace the live tables with the recovered ones/, '\x03']]);
    expect(r.exitCode, r.text).toBe(130);
    expect(r.text).toMatch(/Stopped \(Ctrl-C at a question\)\. Production: the recovered tables were copied into side schema undrop_\S+ \(committed\); nothing live was changed\./);
    expect(await liveShape()).toEqual(before);
    await expectNothingLeft(-1);
    for (const s of await sideSchemas()) await q(`DROP SCHEMA "${s}" CASCADE`);
  });
});
