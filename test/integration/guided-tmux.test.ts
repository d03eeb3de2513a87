// The guided flow as a person meets it: the real binary in a real terminal
// (tmux send-keys / capture-pane) through a whole incident on the lab. The
// replica is paused before the first question, the incident is preselected,
// Ctrl-C at the source question exits 130 with nothing changed, and a second
// run brings the rows back; `undrop promote --mode merge` then puts them in
// the live tables.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/postgres/connect.js';
import { type ConnParams, resolveConnParams } from '../../src/postgres/conninfo.js';
import { cliArgs, undrop } from '../cli.js';
import { REPLAY_SOURCES, replicaDsnOf, useLab } from '../helpers/lab.js';

const lab = useLab({ name: 'guided', scale: 20_000, delay: '10min', timeoutMs: 900_000, components: REPLAY_SOURCES });
const { root, cfg } = lab;
const SOCKET = `undrop-guided-${process.pid}`; // a tmux server of our own
const LOST = ['public.shipments', 'public.shipment_events', 'public.invoices', '"Sales"."Order Items"'];
let prod: ConnParams;
let replica: ConnParams;

const tmux = (...args: string[]) => execa('tmux', ['-L', SOCKET, ...args], { reject: false });
const screen = async (s: string) => String((await tmux('capture-pane', '-p', '-J', '-t', s, '-S', '-5000')).stdout);
/** With escape sequences: colours show as SGR codes (ESC [ … m). */
const colours = async (s: string) => (String((await tmux('capture-pane', '-p', '-e', '-t', s)).stdout).match(/\u001b\[[0-9;]*m/g) ?? []).filter((c) => c !== '\u001b[0m' && c !== '\u001b[39m');
const keys = (s: string, ...k: string[]) => tmux('send-keys', '-t', s, ...k);

/** Start the guided flow in a 220×60 terminal; the exit code lands in a file. */
async function start(session: string, extra: string[] = [], envExtra = ''): Promise<string> {
  const exitFile = join(root, `${session}.exit`);
  const env = `env -u NO_COLOR -u FORCE_COLOR TMPDIR=${process.env.TMPDIR ?? '/tmp'} PATH=${process.env.PATH} TERM=xterm-256color ${envExtra}`;
  const cmd = `${env} ${[process.execPath, ...cliArgs(['-c', cfg, ...extra])].join(' ')}; echo $? > ${exitFile}; sleep 3600`;
  await tmux('new-session', '-d', '-s', session, '-x', '220', '-y', '60', '-c', process.cwd(), cmd);
  return exitFile;
}

/** Wait until the screen matches; returns the screen. Collects every screen seen (the spinner's lines move). */
async function waitFor(session: string, re: RegExp, seen: string[] = [], timeoutMs = 300_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = await screen(session);
    seen.push(s);
    if (re.test(s)) return s;
    if (Date.now() > until) throw new Error(`timed out waiting for ${re} on screen:\n${s}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

async function exitCode(file: string, timeoutMs = 60_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  while (!existsSync(file) || !readFileSync(file, 'utf8').trim()) {
    if (Date.now() > until) throw new Error('the guided run did not exit');
    await new Promise((r) => setTimeout(r, 200));
  }
  return Number(readFileSync(file, 'utf8').trim());
}

const sideSchemas = () => withClient(prod, async (c) => (await c.query<{ n: string }>("select nspname as n from pg_namespace where nspname like 'undrop%' order by 1")).rows.map((r) => r.n));
const pauseState = () => withClient(replica, async (c) => String((await c.query('select pg_get_wal_replay_pause_state() as s')).rows[0].s));

beforeAll(() => {
  prod = lab.prod;
  replica = resolveConnParams(replicaDsnOf(lab));
});

// Before the lab's own afterAll (hooks after the tests run last-registered first).
afterAll(async () => {
  await tmux('kill-server');
});

describe('guided recovery in a real terminal', () => {
  it('pauses the replica before the first question, preselects the incident; Ctrl-C at the source question exits 130 with nothing changed', async () => {
    expect(await pauseState()).toBe('not paused');
    const exitFile = await start('first', [], 'NO_COLOR=1');
    const first = await waitFor('first', /What was lost\?/);
    expect(await colours('first')).toEqual([]); // NO_COLOR: prompts and spinners without colour
    // Paused (or held before its next commit) before the question was on screen.
    expect(await pauseState()).not.toBe('not paused');
    expect(first.indexOf('First, before any question: pausing replay')).toBeLessThan(first.indexOf('What was lost?'));
    expect(first).toMatch(/✔ delayed-replica: (paused now|pause takes hold)/);
    const selected = first.split('\n').find((l) => l.startsWith('❯'))!;
    for (const t of LOST) expect(selected).toContain(t);
    expect(selected).toMatch(/DROP\+CREATE .* rows — .* UTC \(\d+ (s|min) ago\) — xid \d+ {2}\[most likely\]/);
    await keys('first', 'Enter');
    await waitFor('first', /Recover from which source\?/);
    await keys('first', 'C-c');
    expect(await exitCode(exitFile)).toBe(130);
    expect(await screen('first')).toMatch(/INTERRUPTED/);
    expect(await sideSchemas()).toEqual([]);
  });

  it('a second run brings the rows back (progress moving during replay and copy back); promote --mode merge puts them in the live tables', async () => {
    const exitFile = await start('second', ['-v']);
    await waitFor('second', /What was lost\?/);
    expect((await colours('second')).length).toBeGreaterThan(0); // the same terminal has colours without NO_COLOR
    await keys('second', 'Enter');
    await waitFor('second', /Recover from which source\?/);
    await keys('second', 'Enter'); // the best-ranked source
    await waitFor('second', /Copy .* into a new schema .*\?/);
    await keys('second', 'y', 'Enter');
    const seen: string[] = [];
    const last = await waitFor('second', /Bring them into the live tables\?/, seen);
    const progress = (re: RegExp) => [...new Set(seen.join('\n').split('\n').filter((l) => re.test(l)).map((l) => l.trim()))];
    const replay = progress(/replaying WAL: at \S+ — \d+% of/);
    const copy = progress(/copying public\.\w+: .* of ~.* \(\d+%\)/);
    console.log('progress lines seen:', { replay: replay.length, copy: copy.length }, replay.slice(0, 3), copy.slice(0, 3));
    // A replay that ends between two screen reads shows no progress line (seen once on a quiet machine): only the
    // copy, which lasts longer, must be seen moving; replay lines, when seen, have the same form.
    expect(replay.every((l) => /\d+% of/.test(l))).toBe(true);
    expect(copy.length).toBeGreaterThanOrEqual(2);
    expect(copy.filter((l) => / of ~0 B /.test(l))).toEqual([]); // the estimate is read where the rows are
    expect(last).toMatch(/building the keys and indexes of .*shipments/);
    expect(last).toMatch(/What came back — from \S+, recovery point/);
    expect(last).toMatch(/public\.shipments → undrop_\d+_\d+\.shipments: [\d,]+ rows; identity proven/);
    expect(last).toMatch(/LIVE NOW +RECOVERED +MERGE INSERTS +COLLISIONS/);
    await keys('second', 'Enter'); // not now: the side schema only
    expect(await exitCode(exitFile)).toBe(0);
    const end = await screen('second');
    const schema = /undrop promote --schema (undrop_\d+_\d+)/.exec(end)![1]!;
    expect(end).toMatch(/The same recovery without questions:\n\s+undrop -c \S+ recover --tables '.*' --target xid:\d+ --source \S+ --mode side-schema --yes/);
    // Every answer is in the timeline, with who gave it.
    const folder = /Incident folder: (\S+)/.exec(end)![1]!;
    const answers = readFileSync(join(folder, 'timeline.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.type === 'answer');
    expect(answers.map((a) => a.question)).toEqual(expect.arrayContaining(['which destructive transaction', 'which source', 'promote the side schema (--mode)']));
    expect(answers.every((a) => a.by === 'interactive' && a.at)).toBe(true);

    // The lab's incident recreated the tables: their keys restarted, so merging meets collisions.
    const merged = await undrop(['-c', cfg, 'promote', '--schema', schema, '--mode', 'merge', '--on-conflict', 'rekey-live', '--yes', '--json']);
    expect(merged.exitCode, merged.stderr).toBe(0);
    // The --yes confirmation is recorded too, with who gave it.
    const promoteTimeline = join(dirname(JSON.parse(merged.stdout).report), 'timeline.jsonl');
    const yes = readFileSync(promoteTimeline, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.type === 'answer');
    expect(yes.length).toBeGreaterThan(0);
    expect(yes.every((a) => a.by === '--yes' && a.answer === true)).toBe(true);
    await withClient(prod, async (c) => {
      for (const t of ['shipments', 'shipment_events', 'invoices']) {
        const missing = await c.query<{ n: string }>(`select count(*)::text as n from (select * from ${schema}.${t} except select * from public.${t}) x`);
        expect(missing.rows[0]!.n, t).toBe('0');
      }
    });
  });
});
