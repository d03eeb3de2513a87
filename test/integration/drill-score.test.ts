// The tabletop: the seed story as a drill (the snapshot ranked first and
// recovered from, the loss window scored by table), and a guided drill that a
// team gets wrong by hand (the replica never paused, an old dump used, the
// side schema dropped before promote): lab score names each mistake.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { labDown } from '../../src/lab/down.js';
import { labLayout } from '../../src/lab/layout.js';
import { findBinaries } from '../../src/postgres/binaries.js';
import { withClient } from '../../src/postgres/connect.js';
import { resolveConnParams } from '../../src/postgres/conninfo.js';
import { loadInventory } from '../../src/inventory/load.js';
import type { PlaybookDocument } from '../../src/playbooks/render.js';
import { undrop } from '../cli.js';
import { testWorkDir, waitUntil } from '../helpers.js';
import { runRunbook } from '../runbook.js';

const root = mkdtempSync(join(testWorkDir(), 'score-'));
chmodSync(root, 0o755);
const labs: string[] = [];

afterAll(async () => {
  for (const d of labs) if (existsSync(d)) await labDown(labLayout(d)).catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

describe('lab drill and lab score', () => {
  it('seed: PITR without a base backup, replica without delay, error-text dumps: the snapshot ranks first, is recovered from, and the loss is scored by table', async () => {
    const dir = join(root, 'seed');
    labs.push(dir);
    const r = await undrop(['--json', 'lab', 'drill', '--scenario', 'seed', '--dir', dir, '--scale', '2000']);
    expect(r.exitCode, r.stderr.slice(-2000)).toBe(0);
    const doc = JSON.parse(r.stdout);
    const probe = doc.results.probe;
    const byName = Object.fromEntries(probe.sources.map((s: { name: string }) => [s.name, s]));
    expect(probe.ranking[0]).toBe('snapshot');
    expect(byName.pitr.status).toBe('unusable');
    expect(byName.pitr.findings.map((f: { code: string }) => f.code)).toContain('NO_BASE_BACKUPS');
    expect(byName['delayed-replica'].status).toBe('unusable');
    expect(byName['delayed-replica'].findings.map((f: { code: string }) => f.code)).toContain('REPLICA_NO_DELAY');
    expect(byName.dumps.items.filter((i: { status: string }) => i.status === 'unusable')).toHaveLength(2);
    expect(doc.results.recover.source).toBe('snapshot');

    const truth = doc.results.incident.truth;
    const card = doc.results.score.scorecard;
    expect(card.perfect).toBe(false);
    expect(card.source).toMatchObject({ used: 'snapshot', best: 'snapshot', matchesBest: true });
    expect(card.mistakes).toEqual([]);
    for (const t of card.tables) {
      // rows written between the snapshot and the incident are the loss
      expect(t.lostRows, t.name).toBe(truth.beforeIncident.tables[t.name].rows - truth.snapshots[0].tables[t.name].rows);
      expect(t.lostRows, t.name).toBeGreaterThan(0);
    }
    expect(card.rowsLost).toBeGreaterThan(0);
    expect(existsSync(dir)).toBe(false);
  }, 400_000);

  it('guided: the clock starts, the briefings print, the team works by hand; lab score names the loss and the mistakes', async () => {
    const dir = join(root, 'guided');
    labs.push(dir);
    // A 3 s delay: an unpaused replica replays the DROP while the team works.
    const r = await undrop(['--json', 'lab', 'drill', '--guided', '--scenario', 'happy', '--delay', '3s', '--dir', dir, '--scale', '2000']);
    expect(r.exitCode, r.stderr.slice(-2000)).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.steps.map((s: { id: string }) => s.id)).toEqual(['up', 'incident', 'status', 'briefing']);
    expect(doc.kept).toBe(true);
    const drill = JSON.parse(readFileSync(join(dir, 'drill.json'), 'utf8'));
    expect(drill.commands.score).toBe(`undrop lab score --dir ${dir}`);

    const cfg = join(dir, 'undrop.yaml');
    const truth = JSON.parse(readFileSync(join(dir, 'truth.json'), 'utf8'));
    // Nobody pauses the replica: wait until it has replayed the incident
    const replica = resolveConnParams(((await loadInventory(cfg)).sources.find((s) => s.kind === 'delayed-replica') as { dsn: string }).dsn);
    await waitUntil('the unpaused replica to replay the incident', async () => {
      const t = await withClient(replica, async (c) => (await c.query('SELECT pg_last_xact_replay_timestamp() AS t')).rows[0].t as Date | null);
      return !!t && t.getTime() >= Date.parse(truth.incident.commitTime);
    }, { tries: 120, everyMs: 1000 });

    // By hand: the dump runbook with the oldest dump (the team took the wrong one); the replica is never paused.
    const oldest = [...truth.dumps].filter((d: { valid: boolean; format: string }) => d.valid && d.format === 'custom').sort((a: { takenAt: string }, b: { takenAt: string }) => a.takenAt.localeCompare(b.takenAt))[0];
    const pb = await undrop(['-c', cfg, '--json', 'playbook', 'dump', '--target', `xid:${truth.incident.xid}`, '--set', oldest.path, '--schema', 'by_hand', '--restore-dir', join(root, 'r-hand')]);
    expect(pb.exitCode, pb.stderr).toBe(0);
    await runRunbook(JSON.parse(pb.stdout) as PlaybookDocument, { pgBin: (await findBinaries()).dir });
    // And undrop's own side schema, dropped before any promote.
    const rec = await undrop(['-c', cfg, '--json', 'recover', '--tables', 'shipments,shipment_events,invoices', '--source', 'dumps', '--set', oldest.path, '--schema', 'undrop_dropped', '--yes', '--target', `xid:${truth.incident.xid}`]);
    expect(rec.exitCode, rec.stderr.slice(-1500)).toBe(0);
    const prod = resolveConnParams((await loadInventory(cfg)).production.dsn);
    await withClient(prod, (c) => c.query('DROP SCHEMA undrop_dropped CASCADE'));
    const s = await undrop(['--json', 'lab', 'score', '--dir', dir]);
    expect(s.exitCode, s.stderr).toBe(0);
    const card = JSON.parse(s.stdout);
    expect(card.perfect).toBe(false);
    expect(card.mistakes.map((m: { code: string }) => m.code).sort()).toEqual(['REPLICA_RESUMED_BEFORE_EXTRACTION', 'SIDE_SCHEMA_DROPPED_BEFORE_PROMOTE']);
    expect(card.source).toMatchObject({ used: 'dumps', matchesBest: false });
    for (const t of card.tables) {
      expect(t.foundIn).toBe(`by_hand.${t.name.split('.')[1]}`);
      expect(t.lostRows).toBe(truth.beforeIncident.tables[t.name].rows - oldest.tables[t.name].rows);
    }
    expect(readFileSync(join(dir, 'scorecard.md'), 'utf8')).toContain('REPLICA_RESUMED_BEFORE_EXTRACTION');
    const md = await undrop(['lab', 'score', '--dir', dir]);
    expect(md.stdout).toContain('# Drill scorecard: happy');
    expect(md.stdout).toMatch(/\| public\.shipments \| [\d,]+ \| [\d,]+ \| [\d,]+ \| no \| by_hand\.shipments \|/);
  }, 600_000);
});
