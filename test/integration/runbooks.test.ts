// A test per source kind executes its runbook: the commands `undrop playbook
// KIND` prints for the lab's inventory and the located xid run in order in
// bash (as the server OS user where the runbook says so), and the side schema
// they leave in production equals truth.json. One lab for the whole file; its
// delayed replica is put in a known state for each replica path (paused
// before the incident, then holding the incident's locks), never left to timing.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replicaToIncidentLocks } from '../../src/lab/replica-state.js';
import { findBinaries } from '../../src/postgres/binaries.js';
import { withClient } from '../../src/postgres/connect.js';
import { tableChecksum } from '../../src/recovery/checksum.js';
import type { PlaybookDocument } from '../../src/playbooks/render.js';
import { undrop } from '../cli.js';
import { useLab } from '../helpers/lab.js';
import { type CommandRun, runRunbook } from '../runbook.js';

// The copy path needs the incident's COMMIT still held back when its test starts: a long delay.
const lab = useLab({ name: 'rb', scale: 2000, delay: '1h', incident: 'paused-before-incident' });
const { root, dir, cfg } = lab;
const TABLES = ['shipments', 'shipment_events', 'invoices'];
// The runbooks are written for the server's OS user (postgres: its default role owns the copies and the dumps);
// an ordinary user cannot become it, so their execution runs as root only.
const itAsRoot = process.getuid?.() === 0 ? it : it.skip;
let pgBin: string;
const timings: Record<string, number> = {};

beforeAll(async () => {
  pgBin = (await findBinaries()).dir;
});

afterAll(() => {
  console.log('runbook timings (ms):', timings);
});

async function playbook(name: string, schema: string, extra: string[] = []): Promise<PlaybookDocument> {
  const r = await undrop(['-c', cfg, '--json', 'playbook', name, '--target', `xid:${lab.truth.incident.xid}`, '--schema', schema, '--restore-dir', join(root, `r-${schema}`), ...extra]);
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as PlaybookDocument;
}

/** Run it; on failure, run its cleanup step so no instance is left behind. */
async function execute(doc: PlaybookDocument, label: string, o: { branch?: string; skip?: string[] } = {}): Promise<CommandRun[]> {
  const t0 = Date.now();
  try {
    return await runRunbook(doc, { ...o, pgBin });
  } catch (e) {
    await runRunbook(doc, { pgBin, only: ['cleanup'] }).catch(() => {});
    throw e;
  } finally {
    timings[label] = Date.now() - t0;
  }
}

async function sideSchemaEquals(schema: string, expected: Record<string, { rows: number; checksum: string }>): Promise<void> {
  await withClient(lab.prod, async (c) => {
    for (const t of TABLES) {
      const got = await tableChecksum(c, { schema, name: t });
      expect(got, `${schema}.${t}`).toEqual({ rows: expected[`public.${t}`]!.rows, checksum: expected[`public.${t}`]!.checksum });
    }
  });
}

describe('runbooks, executed as printed, end equal to truth.json', () => {
  it('--target before-incident: locate fills in the xid, and its time picks the newest backup before it', async () => {
    const r = await undrop(['-c', cfg, '--json', 'playbook', 'pitr', '--target', 'before-incident', '--restore-dir', join(root, 'r-locate')]);
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as PlaybookDocument;
    expect(doc.notes[0]).toMatch(new RegExp(`^Target: locate: .*xid ${lab.truth.incident.xid}`));
    expect(doc.steps.flatMap((s) => s.commands.map((c) => c.run)).join('\n')).toContain(`recovery_target_xid = '${lab.truth.incident.xid}'`);
    expect(doc.unfilled).toEqual([]);
  });

  // The two replica paths run in this order: the direct one while the replica is paused before the
  // incident's first record, then the copy path after replay moved on to hold the incident's locks.
  itAsRoot('delayed replica, direct path (paused before the incident): no lock trap, dump, side schema equals truth.json', async () => {
    const doc = await playbook('delayed-replica', 'rb_replica');
    const runs = await execute(doc, 'delayed-replica direct', { branch: 'direct', skip: ['resume'] });
    expect(runs.filter((r) => r.step === 'pause').at(-1)!.stdout).toMatch(/^paused\|/);
    expect(runs.find((r) => r.step === 'lock-trap')!.stdout.trim()).toBe('0');
    // The lab stopped its application before pausing the replica, which then holds exactly the pre-incident rows.
    await sideSchemaEquals('rb_replica', lab.truth.beforeIncident.tables);
  });

  itAsRoot('delayed replica, copy path (the replica holds the incident\'s locks): the copy recovers to the xid; then resume', async () => {
    const held = await replicaToIncidentLocks(dir);
    expect(held.lockedTables.length).toBeGreaterThan(0);
    const doc = await playbook('delayed-replica', 'rb_replica_copy');
    const runs = await execute(doc, 'delayed-replica copy', { branch: 'copy' });
    // Waiting out its delay before the COMMIT, the replica reads "pause requested", which the runbook accepts as safe.
    expect(runs.filter((r) => r.step === 'pause').at(-1)!.stdout).toMatch(/^pause requested\|/);
    // The runbook's own check sees the trap, which is what sends a reader to the copy steps.
    expect(Number(runs.find((r) => r.step === 'lock-trap')!.stdout.trim())).toBeGreaterThan(0);
    expect(runs.map((r) => r.step)).toContain('copy-stopped-where');
    expect(runs.at(-1)!.stdout).toContain('resumed');
    await sideSchemaEquals('rb_replica_copy', lab.truth.beforeIncident.tables);
  });

  itAsRoot('pitr: newest base backup, verified with -w, gap check, xid target, promote', async () => {
    const doc = await playbook('pitr', 'rb_pitr');
    await execute(doc, 'pitr');
    await sideSchemaEquals('rb_pitr', lab.truth.beforeIncident.tables);
  });

  itAsRoot('pgbackrest: pinned set, xid target, private socket', async () => {
    const doc = await playbook('pgbackrest', 'rb_pgbr');
    expect(doc.steps.find((s) => s.id === 'restore')!.commands[0]!.run).toMatch(/--set=\S+/);
    await execute(doc, 'pgbackrest');
    await sideSchemaEquals('rb_pgbr', lab.truth.beforeIncident.tables);
  });

  itAsRoot('snapshot: copy, own configuration, crash recovery', async () => {
    const doc = await playbook('snapshot', 'rb_snap');
    await execute(doc, 'snapshot');
    const snap = lab.truth.snapshots.find((s: { path: string }) => doc.steps.some((st) => st.commands.some((c) => c.run.includes(s.path))));
    expect(snap).toBeDefined();
    await sideSchemaEquals('rb_snap', snap.tables);
  });

  itAsRoot('dump: the newest custom dump', async () => {
    const doc = await playbook('dump', 'rb_dump');
    await execute(doc, 'dump custom');
    const used = lab.truth.dumps.find((d: { path: string }) => doc.steps[1]!.commands[0]!.run.includes(d.path));
    expect(used.format).toBe('custom');
    await sideSchemaEquals('rb_dump', used.tables);
  });

  itAsRoot('dump: a plain .sql dump (pg_restore cannot read it; psql restores it)', async () => {
    const plain = lab.truth.dumps.find((d: { format: string; valid: boolean }) => d.format === 'plain' && d.valid);
    const doc = await playbook('dump', 'rb_dump_sql', ['--set', plain.path]);
    await execute(doc, 'dump plain');
    await sideSchemaEquals('rb_dump_sql', plain.tables);
  });
});
