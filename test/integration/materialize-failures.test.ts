// Materialize must fail clearly, before anything reaches production, when
// the source cannot deliver: a WAL segment missing between the base backup
// and the target (named), and a truncated custom dump (read whole first).
import { copyFileSync, mkdirSync, readdirSync, renameSync, statSync, truncateSync } from 'node:fs';
import { basename, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../src/inventory/schema.js';
import { parseTableList } from '../../src/postgres/identifiers.js';
import type { ResolvedTarget } from '../../src/sources/target.js';
import { materializeDump } from '../../src/sources/dump/materialize.js';
import { materializeSource } from '../../src/sources/registry.js';
import type { ProbeResult } from '../../src/sources/types.js';
import { type UpOptions } from '../../src/lab/up.js';
import { labLayout } from '../../src/lab/layout.js';
import { segmentForLsn } from '../../src/postgres/wal/segments.js';
import { pgbackrestInfo } from '../../src/postgres/programs.js';
import { backupSets } from '../../src/sources/pgbackrest/materialize.js';
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

  // Where the lab's gap falls depends on the machine: inside the set's own WAL, the server never becomes consistent.
  it("pgBackRest whose backup's own first segment is gone names it too (the server never became consistent)", async () => {
    const cfg = inv.sources.find((s) => s.kind === 'pgbackrest')!;
    if (cfg.kind !== 'pgbackrest') throw new Error('no pgBackRest source');
    const info = await pgbackrestInfo({ stanza: cfg.stanza, config: cfg.config });
    const set = backupSets(info.stdout).pop()!;
    const first = segmentForLsn(set.timeline!, set.startLsn!);
    const archive = join(labLayout(lab.dir).pgbackrestRepo, 'archive', cfg.stanza);
    const dir = join(archive, readdirSync(archive).find((n) => /^\d+-\d+$/.test(n))!, first.slice(0, 16));
    // The lab's own gap may be this very segment: then there is nothing to set aside.
    const file = readdirSync(dir).find((n) => n.startsWith(`${first}-`));
    const aside = file ? join(root, file) : undefined;
    if (file) renameSync(join(dir, file), aside!);
    try {
      const err = await materializeSource(cfg, req(), probe(cfg.name, 'pgbackrest')).catch((e) => e);
      expect(err).toMatchObject({ code: 'WAL_SEGMENT_MISSING', exitCode: 1 });
      expect(err.message).toContain(first);
      expect(err.hint).toContain('--set');
    } finally {
      if (file) renameSync(aside!, join(dir, file));
    }
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
