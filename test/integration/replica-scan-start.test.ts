// recover from a paused delayed replica with a hand-given xid target: the WAL
// scan that checks the target starts at the replica's replay position (the
// replica vouches that it replayed no record of that transaction), not at the
// newest base backup's start, and still finds the DROP; the identity check
// still rejects a target the replica does not sit just before. When the
// replica holds part of the transaction (the lock trap, shared notes §3), it
// cannot vouch, and the scan reads from its usual start.
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withClient } from '../../src/postgres/connect.js';
import { resolveConnParams } from '../../src/postgres/conninfo.js';
import { parseTableList } from '../../src/postgres/identifiers.js';
import { Lsn } from '../../src/postgres/wal/lsn.js';
import { parseSegmentName, segmentForLsn } from '../../src/postgres/wal/segments.js';
import { replicaToIncidentLocks } from '../../src/lab/replica-state.js';
import { readState } from '../../src/lab/state.js';
import { labLayout } from '../../src/lab/layout.js';
import { scanForTarget } from '../../src/recovery/target-scan.js';
import { resolveExplicit } from '../../src/sources/target.js';
import { replicaScanStart } from '../../src/sources/delayed-replica/scan-start.js';
import { undrop } from '../cli.js';
import { replicaDsnOf, REPLICA_AND_WAL, useLab } from '../helpers/lab.js';
import { archiveNow } from '../helpers/archive.js';

const lab = useLab({ name: 'scanstart', scale: 2000, delay: '10min', incident: 'paused-before-incident', components: REPLICA_AND_WAL });
const TABLES = 'shipments,shipment_events,invoices';

const replicaConn = () => ({ ...resolveConnParams(replicaDsnOf(lab)), database: 'shipping' });
const replicaConfig = () => lab.inventory.sources.find((s) => s.kind === 'delayed-replica') as Extract<(typeof lab.inventory.sources)[number], { kind: 'delayed-replica' }>;
const replayLsn = () => withClient(replicaConn(), async (c) => (await c.query('SELECT pg_last_wal_replay_lsn()::text AS l')).rows[0].l as string);
const prodRows = (sql: string, params: unknown[] = []) => withClient(lab.prod, async (c) => (await c.query(sql, params)).rows);
const segno = (lsn: string) => parseSegmentName(segmentForLsn(1, lsn)).segno;

/** The run's timeline.jsonl. */
function timelineOf(report: string): any[] {
  return readFileSync(join(dirname(report), 'timeline.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/**
 * First segment of every pg_waldump the target scan started (the command line names start and end segments). Not
 * the commit-time lookups (`-r Transaction` alone): the probe, running alongside, may walk back from the replay
 * position segment by segment to the last commit (sources/delayed-replica/replay-commit.ts), which is not the scan
 * (CI once saw it read the segment before the replay position's).
 */
function waldumpStarts(timeline: any[]): string[] {
  const commitLookup = (c: string) => /\s-r Transaction(\s|$)/.test(c) && (c.match(/\s-r\s/g) ?? []).length === 1;
  return timeline.filter((e) => e.type === 'command-start' && /pg_waldump/.test(e.command) && !commitLookup(e.command)).map((e) => /\s(0[0-9A-F]{23})\s/.exec(e.command)?.[1]).filter((s): s is string => !!s);
}

async function recover(xid: string, schema: string, tables = TABLES) {
  const r = await undrop(['-c', lab.cfg, '--json', 'recover', '--tables', tables, '--source', 'delayed-replica', '--target-xid', xid, '--schema', schema, '--yes'], { timeoutMs: 600_000 });
  return { ...r, doc: r.stdout ? JSON.parse(r.stdout) : undefined };
}

describe('the target WAL scan on a paused delayed replica', () => {
  it('starts at the replay position, finds the DROP, identity proven', async () => {
    const replay = await replayLsn();
    const xid = String(lab.truth.incident.xid);
    // the replica is before the incident's first record: it vouches for that start
    expect(await replicaScanStart(replicaConfig(), { database: 'shipping', xid })).toMatchObject({ lsn: replay });
    // what the scan used to start from lies before it (else this test would not tell the two apart)
    const state = (await readState(labLayout(lab.dir)))!;
    const starts = state.baseBackups.map((b) => b.startLsn).filter((l): l is string => !!l).sort(Lsn.compare);
    expect(starts.length).toBeGreaterThan(0);
    expect(segno(starts[starts.length - 1]!)).toBeLessThan(segno(replay));

    const r = await recover(xid, 'scan_from_replay');
    expect(r.exitCode, r.stderr.slice(-3000)).toBe(0);
    for (const t of r.doc.tables) expect(t.identity, `${t.name}: ${t.identityReason}`).toBe('proven');
    for (const t of r.doc.tables) expect(t.rows).toBe(lab.truth.beforeIncident.tables[t.name].rows);
    const timeline = timelineOf(r.doc.report);
    expect(timeline.filter((e) => e.type === 'wal-scan-start')).toEqual([expect.objectContaining({ from: replay })]); // no second, full scan
    const read = waldumpStarts(timeline);
    expect(read.length).toBeGreaterThan(0);
    for (const s of read) expect(parseSegmentName(s).segno).toBeGreaterThanOrEqual(segno(replay));
  }, 900_000);

  it('still rejects a target the replica does not sit just before (a later mass DELETE): IDENTITY_MISMATCH, nothing published', async () => {
    // After the incident, transaction Y deletes rows from the recreated invoices (its successor): Y removed rows
    // of a file the paused replica does not hold, so the replica is not "just before Y".
    const y = await withClient(lab.prod, async (c) => {
      await c.query("INSERT INTO invoices (shipment_id, customer, amount, issued_at) SELECT g, 'wrong-target', 1, now() FROM generate_series(1, 2000) g");
      await c.query('BEGIN');
      await c.query("DELETE FROM invoices WHERE customer = 'wrong-target'");
      const x = (await c.query('SELECT txid_current()::text AS x')).rows[0].x as string;
      await c.query('COMMIT');
      await archiveNow(c);
      return x;
    });
    const replay = await replayLsn();
    const r = await recover(y, 'scan_wrong_target', 'invoices');
    expect(r.exitCode, r.stderr.slice(-3000)).toBe(1);
    expect(r.stderr).toMatch(/does not hold the lost table/);
    expect(r.stderr).toContain(`transaction ${y} removed`);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(await prodRows("SELECT nspname FROM pg_namespace WHERE nspname = 'scan_wrong_target' OR nspname LIKE 'undrop_staging_%'")).toEqual([]);
    const report = /Incident report: (\S+)/.exec(r.stderr)?.[1];
    expect(report).toBeDefined();
    const timeline = timelineOf(report!);
    expect(timeline.find((e) => e.type === 'wal-scan-start')).toMatchObject({ from: replay });
    expect(timeline.find((e) => e.type === 'step-failed' && e.code === 'IDENTITY_MISMATCH') ?? timeline.find((e) => e.type === 'incident-closed')?.error?.code === 'IDENTITY_MISMATCH').toBeTruthy();
  }, 900_000);

  it('the lock trap: a replica holding part of the transaction does not vouch; the scan reads from its usual start and still finds the DROP', async () => {
    const xid = String(lab.truth.incident.xid);
    await replicaToIncidentLocks(lab.dir);
    expect(await replicaScanStart(replicaConfig(), { database: 'shipping', xid })).toBeUndefined();
    const events: any[] = [];
    const timeline = { event: (type: string, data: Record<string, unknown> = {}) => void events.push({ type, ...data }), step: <T>(_n: string, fn: () => Promise<T>) => fn(), lsn: () => {} };
    const target = resolveExplicit({ kind: 'xid', xid });
    const workDir = join(lab.root, 'work-scan');
    mkdirSync(workDir, { recursive: true });
    const found = await scanForTarget({ inventory: lab.inventory, tables: parseTableList(TABLES), production: lab.prod, workDir, target, source: replicaConfig(), timeline });
    expect(events.find((e) => e.type === 'wal-scan-start')).toMatchObject({ from: null });
    expect(found.event?.xid).toBe(xid);
    expect(found.event?.kind).toBe('drop');
    expect(found.end).toBe(lab.truth.incident.commitLsn);
  }, 900_000);
});
