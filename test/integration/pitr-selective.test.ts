// Selective PITR restore on real PostgreSQL (no lab): a primary with data
// checksums and WAL archiving, a target database (shop) and another one
// (bulk), a plain and a tar base backup, writes in both databases after the
// backups, then DROP TABLE in shop. Materializing with selective restore must
// bring the dropped tables back exactly as they were before the DROP, with
// bulk's files left sparse in the temporary data directory.
import { appendFile, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPitrSelectiveFixture, duBytes, type PitrFixture } from '../../src/bench/pitr-selective.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { withClient } from '../../src/postgres/connect.js';
import { parseTableList } from '../../src/postgres/identifiers.js';
import { TempInstance } from '../../src/postgres/instance.js';
import { tableChecksum } from '../../src/recovery/checksum.js';
import { parsePgDatabase } from '../../src/sources/materialize/selective/pg-database.js';
import { materializePitr } from '../../src/sources/pitr/materialize.js';
import type { Materialized, MaterializeRequest, ProbeResult } from '../../src/sources/types.js';
import { testWorkDir } from '../helpers.js';
import { tarBackupWithFpwOff } from '../helpers/pitr-backups.js';

let fx: PitrFixture;
const probe = { name: 'pitr', kind: 'pitr', status: 'usable', recoveryPoint: null, tables: [], findings: [], durationMs: 0 } as ProbeResult;

beforeAll(async () => {
  fx = await buildPitrSelectiveFixture({ workDir: testWorkDir(), targetRows: 5000, otherBytes: 24 * 1024 * 1024, late: true });
}, 300_000);

afterAll(async () => {
  await fx?.cleanup();
  await runAllCleanups();
});

function request(over: Partial<MaterializeRequest> = {}): MaterializeRequest {
  // Database level here (shop's untouched table is read below); relation level: pitr-relations.test.ts.
  return { tables: fx.tables, database: fx.database, target: fx.target, keep: false, workDir: join(fx.root, 'work'), selective: 'database', ...over };
}

async function checkRecovered(m: Materialized): Promise<void> {
  const sums = await withClient(m.conn, async (c) => {
    const out: Record<string, unknown> = {};
    for (const t of fx.tables) out[`public.${t.name}`] = await tableChecksum(c, t);
    return out;
  });
  expect(sums).toEqual(fx.before);
  expect(m.tables.map((t) => t.rows)).toEqual(fx.tables.map((t) => fx.before[`public.${t.name}`]!.rows));
  expect(m.recoveryPoint.basis).toContain(`before commit of transaction ${fx.target.xid}`);
  const inst = m.instance!;
  // started and promoted, and the postgres database works (reads and writes)
  expect((await inst.query<{ r: boolean }>('select pg_is_in_recovery() as r')).rows[0]!.r).toBe(false);
  await inst.query('create table undrop_probe (x int); insert into undrop_probe values (1); drop table undrop_probe;');
  expect(Number((await inst.query<{ n: string }>('select count(*) as n from pg_class')).rows[0]!.n)).toBeGreaterThan(100);
  // shop's untouched table is there too, as of the target
  expect((await withClient(m.conn, (c) => c.query<{ n: string }>('select count(*) as n from customers'))).rows[0]!.n).toBe('500');
}

async function expectSparse(m: Materialized, sparse: boolean): Promise<void> {
  const bulk = await duBytes(join(m.instance!.dataDir, 'base', String(fx.oids.bulk)));
  const shop = await duBytes(join(m.instance!.dataDir, 'base', String(fx.oids.shop)));
  expect(bulk.apparent).toBeGreaterThan(20 * 1024 * 1024);
  if (sparse) expect(bulk.allocated).toBeLessThan(bulk.apparent / 5);
  else expect(bulk.allocated).toBeGreaterThan(bulk.apparent * 0.9);
  expect(shop.allocated).toBeGreaterThan(shop.apparent * 0.9);
  // a left-out database keeps real PG_VERSION and pg_filenode.map
  const pgv = await readFile(join(m.instance!.dataDir, 'base', String(fx.oids.bulk), 'PG_VERSION'), 'utf8');
  expect(pgv.trim()).toBe(String(fx.bin.major));
}

describe('selective PITR restore (real PostgreSQL)', () => {
  it('plain backup: recovers the dropped tables exactly, bulk left sparse', async () => {
    const m = await materializePitr(fx.config('plain') as any, request(), probe);
    try {
      await checkRecovered(m);
      await expectSparse(m, true);
      const note = m.notes.find((n) => n.startsWith('Selective restore'));
      expect(note).toBeDefined();
      expect(note).toContain(`${fx.oids.bulk} (bulk)`);
      expect(note).toContain('saved');
      console.log(`plain: ${note}`);
    } finally {
      await m.release();
    }
  });

  it('tar.gz backup: recovers the dropped tables exactly, bulk left sparse', async () => {
    const m = await materializePitr(fx.config('tar') as any, request(), probe);
    try {
      await checkRecovered(m);
      await expectSparse(m, true);
      expect(m.notes.some((n) => n.startsWith('Selective restore'))).toBe(true);
    } finally {
      await m.release();
    }
  });

  it("selective: 'off' restores everything", async () => {
    const m = await materializePitr(fx.config('plain') as any, request({ selective: 'off' }), probe);
    try {
      await checkRecovered(m);
      await expectSparse(m, false);
      expect(m.notes.some((n) => /Selective|not selective/.test(n))).toBe(false);
    } finally {
      await m.release();
    }
  });

  it('full_page_writes = off in the backup: full restore, with a note saying why', async () => {
    const folder = join(fx.root, 'backups', 'nofpw');
    await mkdir(folder);
    await execa('cp', ['-a', join(fx.backups.plain!, 'b1'), join(folder, 'b1')]);
    await appendFile(join(folder, 'b1', 'postgresql.auto.conf'), "\nfull_page_writes = 'off'\n");
    const m = await materializePitr({ ...fx.config('plain'), base_backups: folder } as any, request(), probe);
    try {
      expect(m.notes.join(' ')).toContain("Full restore (not selective): full_page_writes = off in the backup's postgresql.auto.conf");
      await checkRecovered(m);
      await expectSparse(m, false);
    } finally {
      await m.release();
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('tar backup with full_page_writes = off: the left-out database is extracted after all', async () => {
    const folder = join(fx.root, 'backups', 'nofpw-tar');
    await tarBackupWithFpwOff(join(fx.backups.tar!, 'b1'), folder, join(fx.root, 'nofpw-x'));
    const m = await materializePitr({ ...fx.config('tar'), base_backups: folder } as any, request(), probe);
    try {
      expect(m.notes.join(' ')).toContain("Full restore (not selective): full_page_writes = off in the backup's postgresql.auto.conf");
      await checkRecovered(m);
      await expectSparse(m, false);
    } finally {
      await m.release();
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('a database created after the backup: full restore, with a note saying why', async () => {
    const t = parseTableList('public.t');
    const m = await materializePitr(fx.config('plain') as any, request({ database: 'late', tables: t }), probe);
    try {
      expect(m.notes.join(' ')).toContain('Full restore (not selective): database "late" is not in the backup\'s pg_database');
      const sum = await withClient(m.conn, (c) => tableChecksum(c, t[0]!));
      expect(sum).toEqual(fx.lateBefore);
    } finally {
      await m.release();
    }
  });

  it('reads pg_database from the backup exactly as the server lists it', async () => {
    const rows = parsePgDatabase(await readFile(join(fx.backups.plain!, 'b1', 'global', '1262')), { major: fx.bin.major });
    const live = new Map(Object.entries(fx.oids).filter(([n]) => n !== 'late'));
    for (const [name, oid] of live) expect(rows.some((r) => r.oid === oid && r.datname === name)).toBe(true);
    expect(rows.every((r) => live.get(r.datname) === r.oid)).toBe(true);
  });
});

describe('pg_database page parser on a fresh initdb', () => {
  it('matches select oid, datname from pg_database, dead rows of a re-created database included', async () => {
    const inst = await TempInstance.create({ bin: fx.bin, workDir: testWorkDir(), name: 'pgdb' });
    try {
      await inst.start();
      const fresh = (await inst.query<{ oid: number; datname: string }>('select oid::int as oid, datname from pg_database order by oid')).rows;
      await inst.query('checkpoint');
      const parsed = parsePgDatabase(await readFile(join(inst.dataDir, 'global', '1262')), { major: fx.bin.major });
      expect(parsed.map((r) => ({ oid: r.oid, datname: r.datname })).sort((a, b) => a.oid - b.oid)).toEqual(fresh);
      expect(fresh.map((r) => r.datname).sort()).toEqual(['postgres', 'template0', 'template1']);

      await inst.query('create database "Shop Ä"');
      const first = (await inst.query<{ oid: number }>(`select oid::int as oid from pg_database where datname = 'Shop Ä'`)).rows[0]!.oid;
      await inst.query('drop database "Shop Ä"');
      await inst.query('create database "Shop Ä"');
      const second = (await inst.query<{ oid: number }>(`select oid::int as oid from pg_database where datname = 'Shop Ä'`)).rows[0]!.oid;
      await inst.query('checkpoint');
      const after = parsePgDatabase(await readFile(join(inst.dataDir, 'global', '1262')), { major: fx.bin.major });
      const shopOids = after.filter((r) => r.datname === 'Shop Ä').map((r) => r.oid);
      expect(shopOids).toContain(second);
      expect(shopOids).toContain(first); // the dead tuple is still on the page (no vacuum yet)
    } finally {
      await inst.destroy();
    }
  });
});
