// Materialize must fail clearly, before anything reaches production, when
// the source cannot deliver: a WAL segment missing between the base backup
// and the target (named), and a truncated custom dump (read whole first).
import { copyFileSync, mkdirSync, statSync, truncateSync } from 'node:fs';
import { basename, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../src/inventory/schema.js';
import { parseTableList } from '../../src/postgres/identifiers.js';
import type { ResolvedTarget } from '../../src/sources/target.js';
import { materializeDump } from '../../src/sources/dump/materialize.js';
import { materializeSource } from '../../src/sources/registry.js';
import type { ProbeResult } from '../../src/sources/types.js';
import { type UpOptions } from '../../src/lab/up.js';
import { useLab } from '../helpers/lab.js';

// PITR, pgBackRest and a dump are all it reads: no replica, no snapshot.
const ONLY_BACKUPS: UpOptions['components'] = { replica: false, snapshots: false };
const lab = useLab({ name: 'matfail', scale: 2000, scenario: 'wal-gap', timeoutMs: 300_000, components: ONLY_BACKUPS });
const { root } = lab;
const TABLES = parseTableList('public.shipments,public.shipment_events,public.invoices');
let inv: Inventory;
let truth: any;
let target: ResolvedTarget;

beforeAll(() => {
  ({ truth, inventory: inv } = lab);
  target = { kind: 'xid', xid: truth.incident.xid, commitLsn: truth.incident.commitLsn, firstLsn: truth.incident.firstLsn, time: truth.incident.commitTime, inclusive: false, origin: 'truth.json' };
});

const probe = (name: string, kind: ProbeResult['kind'], items: ProbeResult['items'] = []): ProbeResult => ({ name, kind, status: 'usable', recoveryPoint: null, tables: [], findings: [], items, durationMs: 0 });
const req = () => ({ tables: TABLES, database: 'shipping', target, keep: false, workDir: join(root, 'work') });

describe('materialize refuses what cannot be delivered', () => {
  it('PITR through a WAL gap names the missing segment', async () => {
    const gap = truth.defects.find((d: { code: string }) => d.code === 'wal-gap');
    const missing = basename(gap.path);
    const cfg = inv.sources.find((s) => s.kind === 'pitr')!;
    const err = await materializeSource(cfg, req(), probe(cfg.name, 'pitr')).catch((e) => e);
    expect(err).toMatchObject({ code: 'WAL_SEGMENT_MISSING', exitCode: 1 });
    expect(err.message).toContain(missing);
  });

  it('pgBackRest through the same gap fails too, instead of promoting early', async () => {
    const cfg = inv.sources.find((s) => s.kind === 'pgbackrest')!;
    const err = await materializeSource(cfg, req(), probe(cfg.name, 'pgbackrest')).catch((e) => e);
    const missing = basename(truth.defects.find((d: { code: string }) => d.code === 'wal-gap').path);
    expect(err).toMatchObject({ code: 'WAL_SEGMENT_MISSING', exitCode: 1 });
    expect(err.message).toContain(missing);
  });

  it('a truncated custom dump is read whole first and refused', async () => {
    const dumps = join(root, 'dumps');
    mkdirSync(dumps, { recursive: true });
    const good = truth.dumps.find((d: { path: string }) => d.path.endsWith('.dump')).path;
    const cut = join(dumps, 'shipping_truncated.dump');
    copyFileSync(good, cut);
    truncateSync(cut, Math.floor(statSync(cut).size / 2));
    const item = { label: 'shipping_truncated.dump', path: cut, status: 'degraded' as const, recoveryPoint: { time: truth.incident.commitTime, lsn: null }, findings: [] };
    const err = await materializeDump({ name: 'd', kind: 'dump', paths: [cut] }, req(), probe('d', 'dump', [item])).catch((e) => e);
    expect(err).toMatchObject({ code: 'DUMP_TRUNCATED', exitCode: 1 });
    expect(err.details.join(' ')).toMatch(/end of file|could not read/);
  });
});
