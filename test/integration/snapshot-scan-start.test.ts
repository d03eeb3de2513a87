// A snapshot vouches where the target scan may start (no lab): a server with
// WAL archiving, a crash-consistent snapshot taken before a base backup and
// another after it, then a DROP. For the DROP's transaction, which began
// after both snapshots' checkpoints, the newer snapshot's redo point is a
// later start than the base backup's, and the scan reads from there and still
// finds the DROP; the older snapshot's is earlier, so the scan keeps its usual
// start. A transaction that began before a checkpoint gets no start from it.
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { archiveCommand } from '../../src/lab/layout.js';
import { findBinaries, type PgBinaries } from '../../src/postgres/binaries.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { parseTableList } from '../../src/postgres/identifiers.js';
import { copyTree, TempInstance } from '../../src/postgres/instance.js';
import { pgBasebackup } from '../../src/postgres/lab-programs.js';
import { chownForServer } from '../../src/postgres/os-user.js';
import { pgControldata, pgCtlStop } from '../../src/postgres/programs.js';
import { locate } from '../../src/recovery/locate/index.js';
import { scanForTarget } from '../../src/recovery/target-scan.js';
import { snapshotScanStart } from '../../src/sources/snapshot/scan-start.js';
import { resolveExplicit } from '../../src/sources/target.js';
import { testWorkDir, waitUntil } from '../helpers.js';

let root: string;
let bin: PgBinaries;
let prod: TempInstance;
let inventory: Inventory;
let dropXid = '';
let earlyXid = '';
const redo: Record<'old' | 'new', string> = { old: '', new: '' };
const snapshotPath = (which: 'old' | 'new') => join(root, `snap-${which}`, 'pgdata');

/** A crash-consistent snapshot, as the lab takes one: checkpoint, crash (-m immediate), copy, start again. */
async function snapshot(which: 'old' | 'new'): Promise<void> {
  await prod.query('CHECKPOINT');
  expect((await pgCtlStop(bin, prod.dataDir, 'immediate', 60)).exitCode).toBe(0);
  mkdirSync(join(root, `snap-${which}`));
  await copyTree(prod.dataDir, snapshotPath(which));
  await prod.start();
  redo[which] = (await pgControldata(bin, snapshotPath(which)))["Latest checkpoint's REDO location"]!;
}

beforeAll(async () => {
  root = join(testWorkDir(), `snapscan-${process.pid}-${Date.now()}`);
  mkdirSync(root, { recursive: true });
  chmodSync(root, 0o755);
  const archive = join(root, 'archive');
  const backups = join(root, 'base');
  for (const d of [archive, backups]) {
    mkdirSync(d);
    await chownForServer(d);
  }
  bin = await findBinaries();
  prod = await TempInstance.create({ bin, workDir: root, name: 'snapscan-prod', settings: { wal_level: 'replica', archive_mode: 'on', archive_command: archiveCommand(archive), max_wal_senders: 5 } });
  await prod.start();
  await prod.query('CREATE ROLE replicator WITH REPLICATION LOGIN');
  earlyXid = String((await prod.query<{ x: string }>('SELECT txid_current()::text AS x')).rows[0]!.x);
  await prod.query("CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, 5000) g");
  await snapshot('old');
  await pgBasebackup(bin, { host: prod.socketDir, port: prod.port, user: 'replicator', dir: join(backups, 'b1'), format: 'plain' });
  await prod.query("INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(5001, 8000) g");
  await snapshot('new');
  const c = await prod.connect('postgres');
  try {
    await c.query('BEGIN');
    dropXid = String((await c.query<{ x: string }>('SELECT txid_current()::text AS x')).rows[0]!.x);
    await c.query('DROP TABLE orders');
    await c.query('COMMIT');
  } finally {
    await c.end();
  }
  const seg = (await prod.query<{ w: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS w')).rows[0]!.w;
  await waitUntil(`segment ${seg} archived`, async () => ((await prod.query<{ w: string | null }>('SELECT last_archived_wal AS w FROM pg_stat_archiver')).rows[0]!.w ?? '') >= seg, { tries: 600, everyMs: 200 });
  const p = prod.connParams('postgres');
  inventory = validateInventory(
    {
      production: { dsn: `host=${p.host} port=${p.port} user=${p.user ?? 'postgres'} dbname=postgres` },
      sources: [
        { name: 'wal', kind: 'pitr', base_backups: backups, wal_archive: archive },
        { name: 'snap-new', kind: 'snapshot', paths: [snapshotPath('new')] },
        { name: 'snap-old', kind: 'snapshot', paths: [snapshotPath('old')] },
      ],
    },
    join(root, 'undrop.yaml'),
  );
}, 300_000);

afterAll(async () => {
  await prod?.destroy();
  await runAllCleanups();
  if (root) rmSync(root, { recursive: true, force: true });
});

const source = (name: string) => inventory.sources.find((s) => s.name === name)! as Extract<Inventory['sources'][number], { kind: 'snapshot' }>;

async function scan(name: string) {
  const events: any[] = [];
  const timeline = { event: (type: string, data: Record<string, unknown> = {}) => void events.push({ type, ...data }), step: <T>(_n: string, fn: () => Promise<T>) => fn(), lsn: () => {} };
  const workDir = join(root, `work-${name}`);
  mkdirSync(workDir, { recursive: true });
  const found = await scanForTarget({ inventory, tables: parseTableList('orders'), production: { ...prod.connParams('postgres') }, workDir, target: resolveExplicit({ kind: 'xid', xid: dropXid }), source: source(name), timeline: timeline as any });
  return { found, starts: events.filter((e) => e.type === 'wal-scan-start') };
}

describe("a snapshot vouches for its last checkpoint's redo point as the target scan's start", () => {
  it('each snapshot vouches for the DROP (begun after both checkpoints), none for a transaction begun before them', async () => {
    expect(await snapshotScanStart(source('snap-new'), { database: 'postgres', xid: dropXid })).toMatchObject({ lsn: redo.new, ifLater: true });
    expect(await snapshotScanStart(source('snap-old'), { database: 'postgres', xid: dropXid })).toMatchObject({ lsn: redo.old, ifLater: true });
    expect(await snapshotScanStart(source('snap-old'), { database: 'postgres', xid: earlyXid })).toBeUndefined();
  });

  it('the newer snapshot (after the base backup): the scan reads from its redo point and finds the DROP', async () => {
    const { found, starts } = await scan('snap-new');
    expect(starts).toEqual([expect.objectContaining({ from: redo.new })]);
    expect(found.event?.xid).toBe(dropXid);
    expect(found.event?.kind).toBe('drop');
    expect(found.event?.relations.map((r) => r.name)).toContain('public.orders');
  });

  it('the older snapshot (before the base backup): its redo point is earlier, the scan keeps its usual start and finds the DROP', async () => {
    const { found, starts } = await scan('snap-old');
    expect(starts).toEqual([expect.objectContaining({ from: null })]);
    expect(starts[0].reason).toMatch(/not a later start than the newest base backup's/);
    expect(found.event?.xid).toBe(dropXid);
  });

  it("a later start from another cluster (its system identifier is not production's) is not taken", async () => {
    const systemId = (await pgControldata(bin, snapshotPath('new')))['Database system identifier']!;
    const ask = (id: string) => locate(inventory, { tables: 'orders', production: prod.connParams('postgres'), workDir: join(root, `work-locate-${id}`), stopAfterXid: dropXid, laterStart: { lsn: redo.new, systemId: id } });
    expect((await ask(systemId)).startedLater).toBe(true);
    expect((await ask('1')).startedLater).toBeUndefined();
  });
});

