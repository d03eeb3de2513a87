// PITR at each selective level, on the same backups, in one run. A primary
// with data checksums and WAL archiving holds a target database ("shop") and
// another database ("bulk"); a plain and/or a tar base backup are taken, both
// databases are written to afterwards, then two of shop's tables are dropped.
// materializePitr brings them back to just before the DROP at each level
// (relations: bulk and shop's other tables left sparse; database: bulk left
// sparse; off: everything restored); the figures are wall time and what was
// really written. Two cases: a large other database (what database-level
// restore skips) and one large database in which the lost tables are about
// 5 % (what relation-level restore skips: shop.archive_big, with TOAST and
// indexes, written heavily after the backup).
//
// buildPitrSelectiveFixture is shared with test/integration/pitr-selective.test.ts.
import { chmod, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import type { PgBinaries } from '../postgres/binaries.js';
import { findBinaries } from '../postgres/binaries.js';
import { withClient } from '../postgres/connect.js';
import { parseTableList, type TableName } from '../postgres/identifiers.js';
import { defaultWorkDir, TempInstance } from '../postgres/instance.js';
import { pgBasebackup } from '../postgres/lab-programs.js';
import { chownForServer } from '../postgres/os-user.js';
import { tableChecksum, type TableChecksum } from '../recovery/checksum.js';
import type { ResolvedTarget } from '../sources/target.js';
import { materializePitr } from '../sources/pitr/materialize.js';
import type { Materialized, ProbeResult, SelectiveLevel } from '../sources/types.js';
import { sleep } from '../util/time.js';

export interface PitrFixtureOptions {
  workDir?: string;
  bin?: PgBinaries;
  /** Rows in shop.orders (items gets 60 %). Default 5000. */
  targetRows?: number;
  /** Approximate size of bulk.big. Default 24 MB. */
  otherBytes?: number;
  formats?: ('plain' | 'tar')[];
  /** Also create a database "late" after the backups (for the full-restore fallback). */
  late?: boolean;
  /** Approximate size of shop.archive_big (same database as the lost tables, TOAST and indexes; written heavily after the backup). Default none. */
  sameDbBytes?: number;
  onProgress?: (message: string) => void;
}

export interface PitrFixture {
  bin: PgBinaries;
  root: string;
  primary: TempInstance;
  archive: string;
  /** base_backups folder per format (one backup in each). */
  backups: Partial<Record<'plain' | 'tar', string>>;
  database: string;
  tables: TableName[];
  /** Checksums of the dropped tables just before the DROP. */
  before: Record<string, TableChecksum>;
  /** pg_total_relation_size of the dropped tables just before the DROP. */
  lostBytes: number;
  target: ResolvedTarget;
  oids: Record<string, number>;
  /** late.public.t checksum (when late was asked for). */
  lateBefore?: TableChecksum;
  config(format: 'plain' | 'tar'): { name: string; kind: 'pitr'; base_backups: string; wal_archive: string };
  cleanup(): Promise<void>;
}

const ROW_PAD = 900; // bytes of text per bulk row → ~8 rows per 8 kB page

/** Build the primary, the backups, the post-backup writes and the DROP. */
export async function buildPitrSelectiveFixture(o: PitrFixtureOptions = {}): Promise<PitrFixture> {
  const log = o.onProgress ?? (() => {});
  const bin = o.bin ?? (await findBinaries());
  const parent = o.workDir ?? defaultWorkDir();
  await mkdir(parent, { recursive: true });
  const root = await mkdtemp(join(parent, 'pitrsel-'));
  await chmod(root, 0o755);
  const archive = join(root, 'archive');
  await mkdir(archive);
  await chownForServer(archive);
  const archiveCommand = `cp %p ${archive}/%f.tmp && mv ${archive}/%f.tmp ${archive}/%f`;
  const primary = await TempInstance.create({
    bin,
    workDir: root,
    name: 'primary',
    dataChecksums: true,
    settings: { wal_level: 'replica', archive_mode: 'on', archive_command: archiveCommand, max_wal_senders: 5, max_wal_size: '4GB', checkpoint_timeout: '30min' },
  });
  const cleanup = async () => {
    await primary.destroy().catch(() => {});
    await rm(root, { recursive: true, force: true });
  };
  try {
    await primary.start();
    const q = (sql: string, db = 'postgres') => primary.query(sql, [], db);
    await q('create database shop');
    await q('create database bulk');
    await q(`create table customers (id int primary key, name text not null);
      insert into customers select g, 'customer ' || g from generate_series(1, 500) g;`, 'shop');
    const n = o.targetRows ?? 5000;
    await q(`create table orders (id bigserial primary key, customer_id int not null references customers, amount numeric(12,2) not null, placed_at timestamptz not null default '2026-01-01', note text);
      insert into orders (customer_id, amount, placed_at, note) select 1 + g % 500, (g * 7 % 10000) / 100.0, timestamptz '2026-01-01' + g * interval '1 minute', 'order ' || g from generate_series(1, ${n}) g;
      create table items (order_id bigint not null references orders, line int not null, sku text not null, qty int not null, primary key (order_id, line));
      insert into items select 1 + g % ${n}, g, 'sku-' || (g % 97), 1 + g % 5 from generate_series(1, ${Math.round(n * 0.6)}) g;
      create index on items (sku);`, 'shop');
    // The large database: loaded while archive_command discards WAL (nothing before the backup is needed).
    const bulkRows = Math.max(1000, Math.round((o.otherBytes ?? 24 * 1024 * 1024) / 1024));
    log(`loading bulk.big (${bulkRows.toLocaleString()} rows, ~${Math.round((bulkRows * 1024) / 1024 / 1024)} MB)`);
    await primary.configure({ archive_command: '/bin/true' });
    await q('select pg_reload_conf()');
    await q(`create table big (id bigint primary key, pad text not null) with (fillfactor = 100);
      alter table big alter column pad set storage plain;
      insert into big select g, repeat(md5(g::text), ${Math.round(ROW_PAD / 32)}) from generate_series(1, ${bulkRows}) g;`, 'bulk');
    // A database loaded long ago is vacuumed: without this, autovacuum would rewrite (and WAL-log with
    // full-page images) every page of big right after the backup, and replay would fill its sparse files.
    await q('vacuum (freeze, analyze) big', 'bulk');
    const archiveRows = o.sameDbBytes ? Math.max(1000, Math.round(o.sameDbBytes / 1400)) : 0;
    if (archiveRows) {
      // shop's own large table: ~900 bytes inline per row, and every 4th row a 2 kB value moved out to TOAST.
      log(`loading shop.archive_big (${archiveRows.toLocaleString()} rows, ~${Math.round(o.sameDbBytes! / 1024 / 1024)} MB with TOAST and indexes)`);
      await q(`create table archive_big (id bigint primary key, kind int not null, pad text not null, blob text) with (fillfactor = 100);
        alter table archive_big alter column pad set storage plain, alter column blob set storage external;
        insert into archive_big select g, g % 13, repeat(md5(g::text), ${Math.round(ROW_PAD / 32)}), case when g % 4 = 0 then repeat(md5((-g)::text), 64) end from generate_series(1, ${archiveRows}) g;
        create index archive_big_kind on archive_big (kind);`, 'shop');
      await q('vacuum (freeze, analyze) archive_big', 'shop');
    }
    await q('checkpoint');
    await primary.configure({ archive_command: archiveCommand });
    await q('select pg_reload_conf()');
    await q('select pg_switch_wal()');

    const backupsRoot = join(root, 'backups');
    await mkdir(backupsRoot);
    const backups: PitrFixture['backups'] = {};
    for (const format of o.formats ?? ['plain', 'tar']) {
      const folder = join(backupsRoot, format);
      await mkdir(folder);
      await chownForServer(folder);
      log(`pg_basebackup (${format})`);
      const r = await pgBasebackup(bin, { host: primary.socketDir, port: primary.port, user: primary.superuser, dir: join(folder, 'b1'), format, gzip: format === 'tar', label: `selective ${format}` });
      if (r.exitCode !== 0) throw new Error(`pg_basebackup failed: ${r.stderr}`);
      backups[format] = folder;
    }

    // After the backups: writes in both databases (replay touches pages of the left-out one).
    await q(`insert into orders (customer_id, amount, note) select 1 + g % 500, g, 'after backup ' || g from generate_series(1, 300) g;
      update items set qty = qty + 10 where line % 7 = 0;
      delete from orders o where o.id between 11 and 20 and not exists (select 1 from items i where i.order_id = o.id);`, 'shop');
    if (archiveRows) {
      // Heavy writes to the table relation-level restore leaves sparse: updates (inline and TOASTed), inserts, deletes, a VACUUM.
      await q(`update archive_big set pad = upper(pad) where id % 40 = 0;
        update archive_big set blob = repeat(md5(id::text || 'x'), 64) where id % 97 = 0;
        insert into archive_big select g, g % 13, repeat(md5(g::text), ${Math.round(ROW_PAD / 32)}), repeat(md5((-g)::text), 64) from generate_series(${archiveRows + 1}, ${archiveRows + Math.max(500, Math.round(archiveRows / 20))}) g;
        delete from archive_big where id between 100 and ${100 + Math.max(200, Math.round(archiveRows / 50))};`, 'shop');
      await q('vacuum archive_big', 'shop');
    }
    await q(`update big set pad = upper(pad) where id <= 200;
      insert into big select g, repeat(md5(g::text), ${Math.round(ROW_PAD / 32)}) from generate_series(${bulkRows + 1}, ${bulkRows + 2000}) g;
      delete from big where id between 1000 and 1100;`, 'bulk');
    let lateBefore: TableChecksum | undefined;
    if (o.late) {
      await q('create database late');
      await q('create table t (id int primary key, v text); insert into t select g, md5(g::text) from generate_series(1, 777) g;', 'late');
      lateBefore = await withClient(primary.connParams('late'), (c) => tableChecksum(c, parseTableList('public.t')[0]!));
    }
    const tables = parseTableList('public.orders, public.items');
    const before: Record<string, TableChecksum> = {};
    let lostBytes = 0;
    await withClient(primary.connParams('shop'), async (c) => {
      for (const t of tables) before[`public.${t.name}`] = await tableChecksum(c, t);
      lostBytes = Number((await c.query<{ n: string }>("select (pg_total_relation_size('orders') + pg_total_relation_size('items'))::text as n")).rows[0]!.n);
    });
    // The destructive transaction.
    const xid = await withClient(primary.connParams('shop'), async (c) => {
      await c.query('begin');
      const r = await c.query<{ x: string }>('select txid_current()::text as x');
      await c.query('drop table items');
      await c.query('drop table orders');
      await c.query('commit');
      return r.rows[0]!.x;
    });
    await q("update big set pad = 'after the drop' where id between 2000 and 2010", 'bulk');
    await q("insert into customers values (501, 'after the drop')", 'shop');
    const seg = (await q('select pg_walfile_name(pg_switch_wal()) as f')).rows[0]!.f as string;
    const until = Date.now() + 120_000;
    for (;;) {
      const a = (await q('select last_archived_wal as w, failed_count as f from pg_stat_archiver')).rows[0] as { w: string | null; f: string };
      if (a.w && a.w >= seg) break;
      if (Date.now() > until) throw new Error(`WAL ${seg} was not archived in time (last ${a.w}, ${a.f} failures)`);
      await sleep(200);
    }
    const oids: Record<string, number> = {};
    for (const r of (await q('select oid::int as oid, datname from pg_database')).rows as { oid: number; datname: string }[]) oids[r.datname] = r.oid;
    return {
      bin,
      root,
      primary,
      archive,
      backups,
      database: 'shop',
      tables,
      before,
      lostBytes,
      target: { kind: 'xid', xid, inclusive: false, origin: 'test' },
      oids,
      lateBefore,
      config: (format) => ({ name: `pitr-${format}`, kind: 'pitr', base_backups: backups[format]!, wal_archive: archive }),
      cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** Allocated bytes (what is really on disk; sparse holes do not count) and apparent bytes of a tree. */
export async function duBytes(path: string): Promise<{ allocated: number; apparent: number }> {
  const a = await execa('du', ['-s', '-B1', path], { reject: false });
  const b = await execa('du', ['-s', '-b', path], { reject: false });
  return { allocated: Number(String(a.stdout).split(/\s/)[0]), apparent: Number(String(b.stdout).split(/\s/)[0]) };
}

/** Sectors written to the block device holding `path` (/sys/dev/block/M:m/stat), in bytes; undefined when unavailable. */
async function deviceWrittenBytes(path: string): Promise<number | undefined> {
  try {
    const dev = (await stat(path)).dev;
    const major = Math.floor(dev / 256) & 0xfff;
    const minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
    const f = (await readFile(`/sys/dev/block/${major}:${minor}/stat`, 'utf8')).trim().split(/\s+/);
    return Number(f[6]) * 512;
  } catch {
    return undefined;
  }
}

export interface PitrSelectiveRun {
  format: 'plain' | 'tar';
  level: SelectiveLevel;
  ms: number;
  /** Allocated bytes of the temporary instance's data directory right after materialize. */
  dataDirAllocated: number;
  dataDirApparent: number;
  /** Bytes the block device wrote during the run (includes WAL restore and checkpoints; other activity on the disk adds noise). */
  deviceWritten?: number;
  verified: boolean;
  notes: string[];
}

export interface PitrSelectiveBenchResult {
  otherDbBytes: number;
  targetDbBytes: number;
  /** Of the target database: the lost tables with their indexes and TOAST, just before the DROP. */
  lostBytes: number;
  backupBytes: Partial<Record<'plain' | 'tar', number>>;
  runs: PitrSelectiveRun[];
}

export interface PitrSelectiveBenchOptions {
  /** Size of the other database (default 3 GiB; UNDROP_BENCH_PITR_GB). */
  otherBytes?: number;
  /** Size of the target database's own other table (the relation-level case); the lost tables are then sized to about 5 % of it. */
  sameDbBytes?: number;
  levels?: SelectiveLevel[];
  targetRows?: number;
  formats?: ('plain' | 'tar')[];
  workDir?: string;
  onProgress?: (message: string) => void;
}

/** Materialize the same PITR target at each selective level; one run each, per format. */
export async function benchPitrSelective(o: PitrSelectiveBenchOptions = {}): Promise<PitrSelectiveBenchResult> {
  const log = o.onProgress ?? (() => {});
  // About 150 bytes per order with its items and the indexes of both (measured: 732 k orders, 111 MB), and the
  // database ends near 1.4 × sameDbBytes (the writes after the backup): lost tables ≈ 5 % of the database.
  const targetRows = o.targetRows ?? (o.sameDbBytes ? Math.round((o.sameDbBytes * 0.07) / 150) : 20_000);
  const fx = await buildPitrSelectiveFixture({ otherBytes: o.otherBytes ?? (o.sameDbBytes ? 24 * 1024 ** 2 : 3 * 1024 ** 3), sameDbBytes: o.sameDbBytes, targetRows, formats: o.formats ?? ['plain', 'tar'], workDir: o.workDir, onProgress: log });
  try {
    const sizes = (await fx.primary.query<{ d: string; s: string }>("select datname as d, pg_database_size(oid)::text as s from pg_database where datname in ('shop','bulk')")).rows;
    const size = (d: string) => Number(sizes.find((r) => r.d === d)?.s ?? 0);
    const backupBytes: PitrSelectiveBenchResult['backupBytes'] = {};
    for (const [f, dir] of Object.entries(fx.backups)) backupBytes[f as 'plain' | 'tar'] = (await duBytes(dir)).apparent;
    await fx.primary.stop();
    const runs: PitrSelectiveRun[] = [];
    const probe = { name: 'bench', kind: 'pitr', status: 'usable', recoveryPoint: null, tables: [], findings: [], durationMs: 0 } as ProbeResult;
    for (const format of Object.keys(fx.backups) as ('plain' | 'tar')[]) {
      for (const level of o.levels ?? (['relations', 'database', 'off'] as const)) {
        log(`materialize PITR (${format}, --selective ${level})`);
        const workDir = join(fx.root, `work-${format}-${level}`);
        await execa('sync');
        const w0 = await deviceWrittenBytes(fx.root);
        const t0 = performance.now();
        const m: Materialized = await materializePitr(fx.config(format), { tables: fx.tables, database: fx.database, target: fx.target, keep: false, workDir, selective: level, onProgress: (msg) => log(`  ${Math.round(performance.now() - t0)} ms: ${msg}`) }, probe);
        const ms = performance.now() - t0;
        try {
          const du = await duBytes(m.instance!.dataDir);
          await execa('sync');
          const w1 = await deviceWrittenBytes(fx.root);
          const sums = await withClient(m.conn, async (c) => {
            const out: Record<string, TableChecksum> = {};
            for (const t of fx.tables) out[`public.${t.name}`] = await tableChecksum(c, t);
            return out;
          });
          const verified = JSON.stringify(sums) === JSON.stringify(fx.before);
          runs.push({ format, level, ms, dataDirAllocated: du.allocated, dataDirApparent: du.apparent, deviceWritten: w0 !== undefined && w1 !== undefined ? w1 - w0 : undefined, verified, notes: m.notes });
        } finally {
          await m.release();
          await rm(workDir, { recursive: true, force: true });
        }
      }
    }
    return { otherDbBytes: size('bulk'), targetDbBytes: size('shop'), lostBytes: fx.lostBytes, backupBytes, runs };
  } finally {
    await fx.cleanup();
  }
}
