import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../src/inventory/schema.js';
import { chownForServer } from '../../src/postgres/os-user.js';
import { findBinaries } from '../../src/postgres/binaries.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { TempInstance } from '../../src/postgres/instance.js';
import { Lsn, parseLsn } from '../../src/postgres/wal/lsn.js';
import { runProgram } from '../../src/postgres/run.js';
import { sleep } from '../../src/util/time.js';
import { listSegments } from '../../src/postgres/wal/segments.js';
import { streamWaldumpLines, waldumpArgs } from '../../src/postgres/wal/waldump.js';
import { type LocatedEvent, locate, locateIncident, locateJson } from '../../src/recovery/locate/index.js';
import { testWorkDir } from '../helpers.js';

interface Step {
  xid: string;
  before: string;
  after: string;
}

let inst: TempInstance;
let root: string;
let archive: string;
let inventory: Inventory;
const steps: Record<string, Step> = {};

async function waitArchived(): Promise<void> {
  const seg = (await inst.query<{ f: string }>('select pg_walfile_name(pg_switch_wal()) as f')).rows[0]!.f;
  for (let i = 0; i < 100; i++) {
    if (readdirSync(archive).includes(seg)) return;
    await sleep(100);
  }
  throw new Error(`segment ${seg} was not archived`);
}

beforeAll(async () => {
  const bin = await findBinaries();
  root = mkdtempSync(join(testWorkDir(), 'locate-'));
  chmodSync(root, 0o755);
  archive = join(root, 'archive');
  mkdirSync(archive);
  mkdirSync(join(root, 'base'));
  // As root the server runs as postgres and writes the archive; as an ordinary user it runs as that user.
  for (const d of [archive, join(root, 'base')]) await chownForServer(d, false);
  inst = await TempInstance.create({
    bin,
    workDir: testWorkDir(),
    name: 'locate-prod',
    settings: { wal_level: 'replica', archive_mode: 'on', archive_command: `cp %p ${archive}/%f.tmp && mv ${archive}/%f.tmp ${archive}/%f`, max_wal_senders: 4 },
  });
  await inst.start();
  await inst.query('create database shop');
  await inst.query('create database scratch');
  const c = await inst.connect('shop');
  const x = (s: string) => c.query(s);
  await x('create table shipments (id bigint primary key, customer text not null, note text)');
  await x("insert into shipments select g, 'c'||g, repeat('n', 50) from generate_series(1, 3000) g");
  await x('create table shipment_events (id bigserial primary key, shipment_id bigint references shipments(id), event text)');
  await x("insert into shipment_events(shipment_id, event) select 1 + g % 3000, 'scan' from generate_series(1, 2000) g");
  await x('create table invoices (id int generated always as identity primary key, amount numeric)');
  await x('insert into invoices(amount) select g from generate_series(1, 1000) g');
  await x('create table trunc_me (id int, t text)');
  await x("insert into trunc_me select g, 'x' from generate_series(1, 500) g");
  await x('create schema s');
  await x('create table s.t1 (id int primary key)');
  await x('insert into s.t1 select generate_series(1, 100)');
  await x('create table s.t2 (v text)');
  await x('create table del_me (id int, v text)');
  await x("insert into del_me select g, 'v' from generate_series(1, 5000) g");
  await x('create table vf (id int primary key, t text)');
  await x("insert into vf select g, 'y' from generate_series(1, 300) g");
  await x('checkpoint');
  // A plain base backup from before every incident: the catalog that names dropped tables.
  await runProgram(bin.path('pg_basebackup'), ['-h', inst.socketDir, '-p', String(inst.port), '-U', 'postgres', '-D', join(root, 'base', 'b1'), '-Fp', '-X', 'stream', '-c', 'fast'], { asServerUser: true });
  await waitArchived();

  const lsn = async () => (await x('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
  const step = async (name: string, sqls: string[]) => {
    const before = await lsn();
    await x('begin');
    const xid = (await x('select txid_current()::text as t')).rows[0].t as string;
    for (const s of sqls) await x(s);
    await x('commit');
    steps[name] = { xid, before, after: await lsn() };
  };
  await step('droprecreate', [
    'drop table shipment_events',
    'drop table shipments',
    'drop table invoices',
    'create table shipments (id bigint primary key, customer text not null, note text)',
    'create table shipment_events (id bigserial primary key, shipment_id bigint references shipments(id), event text)',
    'create table invoices (id int generated always as identity primary key, amount numeric)',
  ]);
  await x("insert into shipments values (1, 'new', null)");
  await step('truncate', ['truncate trunc_me']);
  await waitArchived();
  await step('dropschema', ['drop schema s cascade']);
  await step('delete', ['delete from del_me']);
  await x('vacuum full vf');
  await step('dropvf', ['drop table vf']);
  await step('temp', ['create temp table tt (id int primary key, t text)', "insert into tt select g, 'z' from generate_series(1, 2000) g", 'drop table tt']);
  await waitArchived();
  await c.end();
  const before = (await inst.query<{ l: string }>('select pg_current_wal_insert_lsn()::text as l')).rows[0]!.l;
  await inst.query('drop database scratch');
  steps.dropdb = { xid: '', before, after: (await inst.query<{ l: string }>('select pg_current_wal_insert_lsn()::text as l')).rows[0]!.l };
  await waitArchived();
  inventory = {
    file: join(root, 'undrop.yaml'),
    production: { dsn: `host=${inst.socketDir} port=${inst.port} user=postgres dbname=shop` },
    sources: [{ name: 'wal', kind: 'pitr', base_backups: join(root, 'base'), wal_archive: archive }],
  };
});

afterAll(async () => {
  await inst?.destroy();
  await runAllCleanups();
  if (root) rmSync(root, { recursive: true, force: true });
});

function within(e: LocatedEvent, s: Step): void {
  expect(e.xid).toBe(s.xid);
  expect(!Lsn.before(e.commitLsn, s.before)).toBe(true);
  expect(Lsn.before(e.commitLsn, s.after)).toBe(true);
  expect(!Lsn.before(e.firstLsn, s.before)).toBe(true);
  expect(Lsn.before(e.firstLsn, e.commitLsn)).toBe(true);
}

describe('undrop locate on real WAL', () => {
  let events: LocatedEvent[];

  it('finds every incident with exact xids and LSNs, names from a pre-incident catalog', async () => {
    const r = await locate(inventory, { threshold: 1000, workDir: testWorkDir() });
    events = r.events;
    expect(r.warnings.filter((w) => w.code !== 'SINCE_DEFAULT')).toEqual([]);
    expect(r.catalogs.some((c) => c.startsWith('base backup'))).toBe(true);
    // newest first
    const commits = events.map((e) => parseLsn(e.commitLsn));
    expect([...commits].sort((a, b) => (b > a ? 1 : -1))).toEqual(commits);
    expect(events.map((e) => e.kind)).toEqual(['drop-database', 'drop', 'delete', 'drop', 'truncate', 'drop']);
    // the stored JSON follows the contract
    const doc = locateJson(r) as { events: { xid: string; lsn: string; commitTime: string; kind: string; relations: { relfilenode: number; name: string | null }[]; target: { xid: string; inclusive: boolean } }[] };
    for (const e of doc.events) {
      expect(Object.keys(e)).toEqual(expect.arrayContaining(['xid', 'lsn', 'commitTime', 'kind', 'relations', 'target']));
      expect(e.target).toMatchObject({ xid: e.xid, inclusive: false });
    }
  });

  it('DROP + recreate of three tables is one event with the three names and the recreated tables', () => {
    const e = events.find((x) => x.xid === steps.droprecreate!.xid)!;
    within(e, steps.droprecreate!);
    expect(e.kind).toBe('drop');
    expect(e.database.name).toBe('shop');
    expect(e.relations.map((r) => r.name).sort()).toEqual(['public.invoices', 'public.shipment_events', 'public.shipments']);
    expect(e.recreated.map((r) => r.name).sort()).toEqual(['public.invoices', 'public.shipment_events', 'public.shipments']);
    expect(e.rowsLost).toBe(6000);
    expect(e.catalog).toMatch(/^base backup/);
  });

  it('TRUNCATE, DROP SCHEMA CASCADE, DELETE without WHERE, drop after VACUUM FULL, DROP DATABASE', () => {
    const t = events.find((x) => x.xid === steps.truncate!.xid)!;
    within(t, steps.truncate!);
    expect(t.kind).toBe('truncate');
    expect(t.relations.map((r) => r.name)).toEqual(['public.trunc_me']);
    expect(t.rowsLost).toBe(500);

    const s = events.find((x) => x.xid === steps.dropschema!.xid)!;
    within(s, steps.dropschema!);
    expect(s.kind).toBe('drop');
    expect(s.relations.map((r) => r.name).sort()).toEqual(['s.t1', 's.t2']);

    const d = events.find((x) => x.xid === steps.delete!.xid)!;
    within(d, steps.delete!);
    expect(d).toMatchObject({ kind: 'delete', operation: 'delete', rowsLost: 5000 });
    expect(d.relations.map((r) => r.name)).toEqual(['public.del_me']);

    const v = events.find((x) => x.xid === steps.dropvf!.xid)!;
    within(v, steps.dropvf!);
    expect(v.kind).toBe('drop');
    expect(v.relations.map((r) => r.name)).toEqual(['public.vf']);
    expect(v.relations[0]!.relfilenode).not.toBe(v.relations[0]!.oid);

    const db = events.find((x) => x.kind === 'drop-database')!;
    expect(db.database.name).toBe('scratch');
    expect(!Lsn.before(db.firstLsn, steps.dropdb!.before)).toBe(true);
    expect(Lsn.before(db.commitLsn, steps.dropdb!.after)).toBe(true);
    expect(db.target.lsn).toBe(db.firstLsn);
  });

  it('does not report the temp table drop or the VACUUM FULL', () => {
    expect(events.find((x) => x.xid === steps.temp!.xid)).toBeUndefined();
    expect(events.filter((x) => x.relations.some((r) => r.name === 'public.vf'))).toHaveLength(1);
  });

  it('filters by table, ignores by pattern (and lists what it ignored), and resolves the target', async () => {
    const only = await locate(inventory, { tables: 'shipments', workDir: testWorkDir() });
    expect(only.events.map((e) => e.xid)).toEqual([steps.droprecreate!.xid]);
    const ign = await locate(inventory, { ignore: ['trunc_*'], workDir: testWorkDir() });
    expect(ign.ignored.map((e) => e.xid)).toEqual([steps.truncate!.xid]);
    expect(ign.events.some((e) => e.xid === steps.truncate!.xid)).toBe(false);
    // recover checking a hand-given xid reads the WAL only up to that transaction: the same event, nothing after it
    const upTo = await locate(inventory, { stopAfterXid: steps.droprecreate!.xid, workDir: testWorkDir() });
    const it0 = upTo.events.find((e) => e.xid === steps.droprecreate!.xid)!;
    within(it0, steps.droprecreate!);
    expect(it0.relations.map((r) => r.name).sort()).toEqual(['public.invoices', 'public.shipment_events', 'public.shipments']);
    expect(upTo.events.every((e) => !Lsn.before(it0.commitLsn, e.commitLsn))).toBe(true);
    expect(upTo.events.length).toBeLessThan(events.length);
    const t = await locateIncident(inventory, { tables: 'public.invoices', workDir: testWorkDir() });
    expect(t).toMatchObject({ kind: 'xid', xid: steps.droprecreate!.xid, inclusive: false, database: 'shop' });
    expect(t.commitLsn).toBe(t.event.commitLsn);
  });

  it('through a source that only has a restore_command (a path with a space and a quote): segments fetched, same events, names from its base backup', async () => {
    // A path with a space and a quote: the command must quote it the way the user wrote it, and undrop must not break it.
    const odd = join(root, "arch 'ive");
    mkdirSync(odd);
    for (const f of readdirSync(archive)) copyFileSync(join(archive, f), join(odd, f));
    await chownForServer(odd);
    const viaCommand: Inventory = { ...inventory, sources: [{ name: 'fetched', kind: 'pitr', base_backups: join(root, 'base'), restore_command: `cp "${odd.replace(/"/g, '\\"')}/%f" "%p"` }] };
    const r = await locate(viaCommand, { threshold: 1000, workDir: testWorkDir() });
    expect(r.wal.source).toBe('fetched (restore_command)');
    expect(r.events.map((e) => e.xid)).toEqual(events.map((e) => e.xid));
    expect(r.events.find((e) => e.xid === steps.droprecreate!.xid)!.catalog).toMatch(/^base backup/);
  });

  it('without a catalog reports raw files and says how to get names', async () => {
    const r = await locate(undefined, { walDir: archive, catalog: 'none', since: '0/1000000', workDir: testWorkDir() });
    const e = r.events.find((x) => x.xid === steps.droprecreate!.xid)!;
    expect(e.relations.every((x) => x.name === null)).toBe(true);
    expect(e.notes.join(' ')).toMatch(/pg_filenode_relation/);
  });

  it('reports a missing segment and scans the rest; refuses WAL from another cluster', async () => {
    const gapDir = mkdtempSync(join(root, 'gap-'));
    const segs = readdirSync(archive).filter((f) => /^[0-9A-F]{24}$/.test(f)).sort();
    const drop = segs[Math.floor(segs.length / 2)]!;
    for (const f of segs) if (f !== drop) copyFileSync(join(archive, f), join(gapDir, f));
    const r = await locate(undefined, { walDir: gapDir, catalog: 'none', since: '0/1000000', workDir: testWorkDir() });
    expect(r.warnings.map((w) => w.code)).toContain('WAL_GAP');
    expect(r.wal.gaps[0]!.missing).toEqual([drop]);
    // a foreign segment: another system identifier in the long page header
    const other = segs[segs.length - 1]!;
    const buf = readFileSync(join(gapDir, other));
    buf.writeBigUInt64LE(1234567890n, 24);
    writeFileSync(join(gapDir, other), buf);
    await expect(locate(undefined, { walDir: gapDir, catalog: 'none', since: '0/1000000', workDir: testWorkDir() })).rejects.toMatchObject({ code: 'WAL_OTHER_CLUSTER', exitCode: 2 });
  });

  it('says when --since is before the oldest WAL', async () => {
    const r = await locate(undefined, { walDir: archive, catalog: 'none', since: '2000-01-01T00:00:00Z', workDir: testWorkDir() });
    expect(r.warnings.map((w) => w.code)).toContain('SINCE_BEFORE_WAL');
    expect(r.events.length).toBeGreaterThanOrEqual(6);
  });
});

describe('pg_waldump output transport (locate reads gigabytes through it)', () => {
  it('the named pipe and the stdout pipe hand out exactly what pg_waldump prints; stopping early stops pg_waldump', async () => {
    const bin = await findBinaries();
    const segs = (await listSegments(archive)).filter((s) => !s.name.endsWith('.partial'));
    const o = { dir: archive, startSegment: segs[0]!.name, endSegment: segs[segs.length - 1]!.name };
    const plain = await runProgram(bin.path('pg_waldump'), waldumpArgs(o), { env: { TZ: 'UTC' }, allowFailure: true });
    expect(plain.stdout.length).toBeGreaterThan(100_000);
    for (const transport of ['fifo', 'pipe'] as const) {
      const parts: Buffer[] = [];
      const out = await streamWaldumpLines(bin, o, (buf, start, end) => void parts.push(Buffer.from(buf.subarray(start, end))), { transport });
      expect(out.stoppedEarly).toBe(false);
      expect(Buffer.concat(parts).toString('latin1')).toBe(plain.stdout);
      let blocks = 0;
      const early = await streamWaldumpLines(bin, o, () => ++blocks < 2, { transport });
      expect(early.stoppedEarly).toBe(true);
      expect(blocks).toBe(2);
    }
  });
});
