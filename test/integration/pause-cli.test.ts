// `undrop pause` / `undrop resume` through the real CLI on a lab with a
// delayed replica, and the CLI's habits (did you mean, help, JSON errors).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/postgres/connect.js';
import { resolveConnParams } from '../../src/postgres/conninfo.js';
import { undrop } from '../cli.js';
import { replicaDsnOf, REPLICA_AND_WAL, useLab } from '../helpers/lab.js';

const lab = useLab({ name: 'pause', scale: 500, delay: '10min', incident: false, components: REPLICA_AND_WAL });
const { root, cfg } = lab;
let replicaDsn: string;

const pauseState = () => withClient(resolveConnParams(replicaDsn), async (c) => String((await c.query('select pg_get_wal_replay_pause_state() as s')).rows[0].s));

beforeAll(() => {
  replicaDsn = replicaDsnOf(lab);
});

describe('undrop pause / resume', () => {
  it('pause: every delayed replica, no question, exit 0, says what it holds; again: still safe', async () => {
    expect(await pauseState()).toBe('not paused');
    const r = await undrop(['-c', cfg, 'pause', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.safe).toBe(true);
    expect(doc.replicas).toHaveLength(1);
    expect(['paused', 'held']).toContain(doc.replicas[0].outcome);
    expect(doc.replicas[0].delayMs).toBe(600_000);
    expect(await pauseState()).not.toBe('not paused');
    const again = await undrop(['-c', cfg, 'pause', '--incident-time', new Date().toISOString()]);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^✔ delayed-replica: .*it holds everything committed before .*it had 10 min \d+ s left|9 min \d+ s left/m);
  });

  it('resume needs a confirmation; refused without one (exit 2, still paused); --yes resumes and says so', async () => {
    const no = await undrop(['-c', cfg, 'resume']);
    expect(no.exitCode).toBe(2);
    expect(no.stderr).toContain('CONFIRMATION_NEEDED');
    expect(await pauseState()).not.toBe('not paused');
    const yes = await undrop(['-c', cfg, 'resume', '--yes']);
    expect(yes.exitCode, yes.stderr).toBe(0);
    expect(yes.stdout).toMatch(/✔ delayed-replica: replay resumed/);
    expect(await pauseState()).toBe('not paused');
  });

  it('bad names are bad usage; an unreachable replica is exit 1 and named', async () => {
    const pitr = await undrop(['-c', cfg, 'pause', '--source', 'pitr']);
    expect(pitr.exitCode).toBe(2);
    expect(pitr.stderr).toContain('NOT_A_REPLICA');
    const none = await undrop(['-c', cfg, 'pause', '--source', 'nope']);
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain('SOURCE_UNKNOWN');
    const bad = join(root, 'bad.yaml');
    writeFileSync(bad, readFileSync(cfg, 'utf8').replace(`port=${/port=(\d+)/.exec(replicaDsn)![1]}`, 'port=1'));
    const r = await undrop(['-c', bad, 'pause', '--json']);
    expect(r.exitCode).toBe(1);
    expect(JSON.parse(r.stdout).replicas[0]).toMatchObject({ name: 'delayed-replica', outcome: 'failed', safe: false });
    expect(r.stderr).toMatch(/✖ delayed-replica: NOT paused/);
  });
});

describe('CLI habits', () => {
  it('a mistyped command gets "did you mean"; help <cmd> exits 0 with examples; parser errors under --json are JSON', async () => {
    const typo = await undrop(['probee']);
    expect(typo.exitCode).toBe(2);
    expect(typo.stderr).toContain("unknown command 'probee'");
    expect(typo.stderr).toContain('Did you mean: undrop probe?');
    const help = await undrop(['help', 'probe']);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/Examples:\n\s+undrop probe/);
    const root = await undrop(['--help']);
    expect(root.stdout.indexOf('pause')).toBeLessThan(root.stdout.indexOf('probe [options]'));
    const json = await undrop(['--json', 'recover', '--mode', 'sideways']);
    expect(json.exitCode).toBe(2);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'BAD_USAGE', exitCode: 2 });
    const noAnsi = await undrop(['probee']);
    expect(noAnsi.stderr).not.toMatch(/\u001b\[/);
  });
});
