// Materialize, end to end on a lab after its incident: every source kind
// brings the three lost tables up in a temporary instance, and their content
// checksums equal the lab's ground truth (pre-incident for PITR, pgBackRest
// and the paused replica; snapshot-time and dump-time for those sources).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inventory, SourceConfig } from '../../src/inventory/schema.js';
import { withClient } from '../../src/postgres/connect.js';
import { parseTableList, parseTableName } from '../../src/postgres/identifiers.js';
import { resolveConnParams } from '../../src/postgres/conninfo.js';
import { tableChecksum } from '../../src/recovery/checksum.js';
import type { ResolvedTarget } from '../../src/sources/target.js';
import { materializeDump } from '../../src/sources/dump/materialize.js';
import { materializePgbackrest } from '../../src/sources/pgbackrest/materialize.js';
import { materializePitr } from '../../src/sources/pitr/materialize.js';
import { materializeReplica } from '../../src/sources/delayed-replica/materialize.js';
import { materializeSnapshot } from '../../src/sources/snapshot/materialize.js';
import { probeAll } from '../../src/sources/probe-all.js';
import type { Materialized, MaterializeRequest, ProbeResult } from '../../src/sources/types.js';
import { useLab } from '../helpers/lab.js';

const lab = useLab({ name: 'mat', scale: 3000, delay: '10min', incident: 'paused-before-incident' });
const TABLES = parseTableList('public.shipments, public.shipment_events, public.invoices');
let inv: Inventory;
let truth: any;
let target: ResolvedTarget;
let probes: Map<string, ProbeResult>;
const timings: Record<string, number> = {};

// The replica is paused before the incident's first record: readable, never holding the DROP's locks.
beforeAll(async () => {
  ({ truth, inventory: inv } = lab);
  target = { kind: 'xid', xid: truth.incident.xid, commitLsn: truth.incident.commitLsn, firstLsn: truth.incident.firstLsn, time: truth.incident.commitTime, inclusive: false, origin: 'truth.json' };
  const report = await probeAll(inv, { tables: TABLES, target });
  probes = new Map(report.sources.map((s) => [s.name, s]));
}, 300_000);

afterAll(() => {
  console.log('materialize timings (ms):', timings);
});

function source(kind: SourceConfig['kind']): SourceConfig {
  const s = inv.sources.find((x) => x.kind === kind);
  if (!s) throw new Error(`lab has no ${kind} source`);
  return s;
}

function request(): MaterializeRequest {
  return { tables: TABLES, database: 'shipping', target, keep: false, workDir: join(lab.root, 'work'), walArchive: join(lab.dir, 'archive') };
}

async function checksums(m: Materialized): Promise<Record<string, { rows: number; checksum: string }>> {
  return withClient(m.conn, async (c) => {
    const out: Record<string, { rows: number; checksum: string }> = {};
    for (const t of ['public.shipments', 'public.shipment_events', 'public.invoices']) out[t] = await tableChecksum(c, parseTableName(t));
    return out;
  });
}

async function run(kind: SourceConfig['kind'], fn: (cfg: any, req: MaterializeRequest, p: ProbeResult) => Promise<Materialized>) {
  const cfg = source(kind);
  const started = Date.now();
  const m = await fn(cfg, request(), probes.get(cfg.name)!);
  timings[kind] = Date.now() - started;
  try {
    return { m, sums: await checksums(m) };
  } finally {
    await m.release();
  }
}

describe('materialize on the lab', () => {
  it('PITR: zero loss — equal to the pre-incident truth', async () => {
    const { m, sums } = await run('pitr', materializePitr);
    expect(sums).toEqual(truth.beforeIncident.tables);
    expect(m.recoveryPoint.basis).toContain(`before commit of transaction ${truth.incident.xid}`);
    expect(m.tables.map((t) => t.rows)).toEqual([truth.beforeIncident.tables['public.shipments'].rows, truth.beforeIncident.tables['public.shipment_events'].rows, truth.beforeIncident.tables['public.invoices'].rows]);
  });

  it('pgBackRest: zero loss — equal to the pre-incident truth', async () => {
    const { m, sums } = await run('pgbackrest', materializePgbackrest);
    expect(sums).toEqual(truth.beforeIncident.tables);
    // only the lost tables' database was restored, with one restore process per core
    expect(m.notes.join(' ')).toContain('pgBackRest restored database shipping and the system databases only (--db-include)');
    expect(m.notes.join(' ')).toMatch(/--process-max \d+/);
  });

  it('delayed replica, paused before the incident: equal to what the paused replica holds', async () => {
    const { m, sums } = await run('delayed-replica', materializeReplica);
    expect(m.notes.join(' ')).toContain('pg_wal_replay_resume()');
    // The lab paused it before the incident with nothing left to apply: it holds the pre-incident tables, readable there.
    const cfg = source('delayed-replica') as { dsn: string };
    const onReplica = await withClient({ ...resolveConnParams(cfg.dsn), database: 'shipping' }, async (c) => {
      const out: Record<string, { rows: number; checksum: string }> = {};
      for (const t of ['public.shipments', 'public.shipment_events', 'public.invoices']) out[t] = await tableChecksum(c, parseTableName(t));
      return out;
    });
    expect(sums).toEqual(onReplica);
    expect(sums).toEqual(truth.beforeIncident.tables);
    expect(m.tables.map((t) => [t.name, t.rows])).toEqual(Object.entries(sums).map(([name, x]) => [name, x.rows]));
  });

  it('snapshot: equal to the state at snapshot time', async () => {
    const { sums } = await run('snapshot', materializeSnapshot);
    const snap = truth.snapshots[truth.snapshots.length - 1];
    expect(sums).toEqual(snap.tables);
  });

  it('dump: equal to the state at dump time, with keys, indexes and sequences', async () => {
    const cfg = source('dump');
    const m = await materializeDump(cfg as any, request(), probes.get(cfg.name)!);
    try {
      const sums = await checksums(m);
      const chosen = truth.dumps.find((d: any) => sums['public.shipments'].rows === d.tables['public.shipments'].rows);
      expect(chosen, JSON.stringify({ sums, dumps: truth.dumps })).toBeTruthy();
      expect(sums).toEqual(chosen.tables);
      const idx = await withClient(m.conn, (c) => c.query("select indexname from pg_indexes where tablename in ('shipments','shipment_events','invoices') order by 1"));
      expect(idx.rows.map((r: any) => r.indexname)).toEqual(expect.arrayContaining(['invoices_pkey', 'shipment_events_pkey', 'shipment_events_shipment_id_idx', 'shipments_pkey']));
      const ins = await withClient(m.conn, (c) => c.query("insert into public.invoices (customer, amount, issued_at) values ('x', 1, now()) returning id"));
      expect(Number(ins.rows[0].id)).toBeGreaterThan(0);
    } finally {
      await m.release();
    }
  });
});
