// undrop probe against real lab scenarios (src/lab): each scenario's defect
// is found and named; the default lab probes in well under 5 s.
import { chmodSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/load.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { labDown } from '../../src/lab/down.js';
import { labIncident } from '../../src/lab/incident.js';
import { labLayout } from '../../src/lab/layout.js';
import { labUp } from '../../src/lab/up.js';
import { probeAll } from '../../src/sources/probe-all.js';
import { parseLsn } from '../../src/postgres/wal/lsn.js';
import { parseSegmentName, segnoOfLsn } from '../../src/postgres/wal/segments.js';
import type { ProbeResult } from '../../src/sources/types.js';
import { exitCodeFor, probeDocument } from '../../src/cli/actions/probe.js';
import { testWorkDir } from '../helpers.js';

const SCALE = 2000;
const root = mkdtempSync(join(testWorkDir(), 'probe-lab-'));
chmodSync(root, 0o755);
const dirs: string[] = [];

afterAll(async () => {
  for (const d of dirs) if (existsSync(d)) await labDown(labLayout(d)).catch(() => {});
  await runAllCleanups();
});

async function lab(scenario: string, incident = true) {
  const dir = join(root, scenario);
  dirs.push(dir);
  await labUp({ dir, scenario, scale: SCALE });
  const truth = incident ? (await labIncident({ dir })).truth : undefined;
  const inv = await loadInventory(join(dir, 'undrop.yaml'));
  return { dir, inv, truth };
}

const by = (rs: ProbeResult[], kind: string) => rs.find((r) => r.kind === kind)!;
const codes = (r: ProbeResult) => r.findings.map((f) => f.code);

describe('probe on lab scenarios', () => {
  it('happy: every source usable, in the full expected order (zero loss by kind, then the newer of the last dump and the snapshot); its duration is logged, the bench measures speed', async () => {
    const { inv, truth } = await lab('happy');
    const target = { kind: 'time' as const, time: truth!.incident.commitTime, inclusive: false as const, origin: 'test' };
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
    const lastDump = Math.max(...truth!.dumps.filter((d) => d.valid).map((d) => Date.parse(d.takenAt)));
    const snapshotAt = Math.max(...truth!.snapshots.map((s) => Date.parse(s.takenAt)));
    const older = lastDump > snapshotAt ? ['dump', 'snapshot'] : ['snapshot', 'dump'];
    // Equal (zero) loss: usable before degraded, then the quickest kind first (replica, then PITR, then pgBackRest).
    const trapped = by(rep.sources, 'delayed-replica').status === 'degraded';
    const zeroLoss = trapped ? ['pitr', 'pgbackrest', 'delayed-replica'] : ['delayed-replica', 'pitr', 'pgbackrest'];
    expect(rep.ranking).toEqual([...zeroLoss, ...older].map((k) => by(rep.sources, k).name));
    const doc = probeDocument(rep) as { sources: { name: string; status: string }[]; ranking: string[] };
    expect(doc.ranking).toEqual(rep.ranking);
    expect(doc.sources.filter((s) => s.status !== 'usable').length).toBe(trapped ? 1 : 0);
    // --strict fails on a degraded source: the armed lock trap is worth a page.
    expect(exitCodeFor(rep, true)).toBe(trapped ? 3 : 0);
  });

  it('short-retention: the error-text dumps are unusable, the old dump degraded by age', async () => {
    const { inv } = await lab('short-retention');
    const rep = await probeAll(inv, {});
    const dumps = by(rep.sources, 'dump');
    const broken = dumps.items!.filter((i) => i.findings.some((f) => f.code === 'DUMP_ERROR_TEXT'));
    expect(broken.length).toBeGreaterThanOrEqual(1);
    for (const b of broken) expect(b.status).toBe('unusable');
    expect(broken[0]!.findings[0]!.message).toContain('pg_dump: error');
    const old = dumps.items!.find((i) => i.findings.some((f) => f.code === 'TOO_OLD'));
    expect(old?.status).toBe('degraded');
    expect(dumps.status).not.toBe('usable');
    expect(exitCodeFor(rep, true)).toBe(3);
  });

  it('wal-gap: names the missing segment and the last reachable time', async () => {
    const { inv, truth } = await lab('wal-gap');
    const target = { kind: 'lsn' as const, commitLsn: truth!.incident.commitLsn, firstLsn: truth!.incident.firstLsn, time: truth!.incident.commitTime, inclusive: false as const, origin: 'test' };
    const rep = await probeAll(inv, { target });
    const pitr = by(rep.sources, 'pitr');
    // The lab removes a segment strictly between the newest base backup and the incident: always a gap with a reachable point before it.
    const removed = truth!.defects.find((d) => d.code === 'wal-gap')!;
    const segment = /[0-9A-F]{24}/.exec(removed.description)![0];
    const gap = pitr.findings.find((f) => f.code === 'WAL_GAP');
    expect(gap, JSON.stringify(pitr.findings)).toBeDefined();
    expect(gap!.message).toContain(segment);
    // The last reachable commit, always named: before the missing segment, after the newest base backup started, and it is the source's recovery point.
    const [, time, lsn] = /last reachable commit is (\S+) \(LSN ([0-9A-F]+\/[0-9A-F]+)\)/.exec(gap!.message) ?? [];
    expect(time, gap!.message).toBeDefined();
    expect(segnoOfLsn(lsn!)).toBeLessThan(parseSegmentName(segment).segno);
    const newestBackup = truth!.baseBackups.filter((b) => b.startLsn).sort((a, b) => Number(parseLsn(b.startLsn!) - parseLsn(a.startLsn!)))[0]!;
    expect(parseLsn(lsn!) > parseLsn(newestBackup.startLsn!), `${lsn} after ${newestBackup.startLsn}`).toBe(true);
    expect(Date.parse(time!)).toBeLessThan(Date.parse(truth!.incident.commitTime!));
    expect(pitr.recoveryPoint).toMatchObject({ time, lsn });
    // microseconds kept in the time, milliseconds in the window
    expect(Math.abs(pitr.lossWindowMs! - (Date.parse(truth!.incident.commitTime!) - Date.parse(time!)))).toBeLessThanOrEqual(1);
  });

  it('replica-too-late: the replica without delay is unusable', async () => {
    const { inv } = await lab('replica-too-late');
    const rep = await probeAll(inv, {});
    const replica = by(rep.sources, 'delayed-replica');
    expect(replica.status).toBe('unusable');
    expect(codes(replica)).toContain('REPLICA_NO_DELAY');
    expect(rep.ranking[rep.ranking.length - 1]).toBe(replica.name);
  });

  it('dump-only: the truncated dump is flagged by size, and as truncated under --deep', async () => {
    const { inv } = await lab('dump-only', false);
    const shallow = by((await probeAll(inv, {})).sources, 'dump');
    const deep = by((await probeAll(inv, { deep: true })).sources, 'dump');
    const truncated = deep.items!.find((i) => i.findings.some((f) => f.code === 'DUMP_TRUNCATED'));
    expect(truncated, JSON.stringify(deep.items)).toBeDefined();
    expect(truncated!.status).toBe('unusable');
    const same = shallow.items!.find((i) => i.label === truncated!.label)!;
    expect(same.findings.map((f) => f.code)).toContain('DUMP_SIZE_DROP');
    void readFileSync;
  });
});
