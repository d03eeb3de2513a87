// Relation-level selective PITR restore on real PostgreSQL (no lab): shop
// holds the lost tables (orders, items) beside a larger table, archive_big
// (TOAST and two indexes), written heavily between the backups and the DROP
// (updates inline and TOASTed, inserts, deletes, a VACUUM). Materializing from
// a plain and a tar.gz backup must bring the lost tables back equal to the
// truth taken before the DROP, with archive_big's files (heap, TOAST, indexes)
// sparse in the temporary data directory, and leave the backups untouched.
// The catalog reader is checked against the server's own pg_class.
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPitrSelectiveFixture, type PitrFixture } from '../../src/bench/pitr-selective.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { withClient } from '../../src/postgres/connect.js';
import { TempInstance } from '../../src/postgres/instance.js';
import { tableChecksum } from '../../src/recovery/checksum.js';
import { parseFilenodeMap } from '../../src/sources/materialize/selective/pg-class.js';
import { plainCatalog } from '../../src/sources/materialize/selective/relation-source.js';
import { planRelations } from '../../src/sources/materialize/selective/relation-plan.js';
import { materializePitr } from '../../src/sources/pitr/materialize.js';
import type { Materialized, MaterializeRequest, ProbeResult } from '../../src/sources/types.js';
import { testWorkDir, treeFingerprint } from '../helpers.js';
import { tarBackupWithFpwOff } from '../helpers/pitr-backups.js';

let fx: PitrFixture;
const probe = { name: 'pitr', kind: 'pitr', status: 'usable', recoveryPoint: null, tables: [], findings: [], durationMs: 0 } as ProbeResult;

beforeAll(async () => {
  fx = await buildPitrSelectiveFixture({ workDir: testWorkDir(), targetRows: 4000, otherBytes: 8 * 1024 * 1024, sameDbBytes: 40 * 1024 * 1024 });
}, 300_000);

afterAll(async () => {
  await fx?.cleanup();
  await runAllCleanups();
});

function request(over: Partial<MaterializeRequest> = {}): MaterializeRequest {
  return { tables: fx.tables, database: fx.database, target: fx.target, keep: false, workDir: join(fx.root, 'work'), ...over };
}

async function expectLostTablesEqualTruth(m: Materialized): Promise<void> {
  const sums = await withClient(m.conn, async (c) => {
    const out: Record<string, unknown> = {};
    for (const t of fx.tables) out[`public.${t.name}`] = await tableChecksum(c, t);
    return out;
  });
  expect(sums).toEqual(fx.before);
  expect(m.tables.map((t) => t.rows)).toEqual(fx.tables.map((t) => fx.before[`public.${t.name}`]!.rows));
}

/** archive_big's heap, TOAST and index files in the temp instance: [path, apparent bytes, allocated bytes]. */
async function archiveFiles(m: Materialized): Promise<[string, number, number][]> {
  const paths = await withClient(m.conn, async (c) =>
    (
      await c.query<{ p: string }>(`select pg_relation_filepath(x) as p from (
        select 'archive_big'::regclass::oid as x
        union all select reltoastrelid from pg_class where oid = 'archive_big'::regclass
        union all select indexrelid from pg_index where indrelid = 'archive_big'::regclass
          or indrelid = (select reltoastrelid from pg_class where oid = 'archive_big'::regclass)) s`)
    ).rows.map((r) => r.p),
  );
  const out: [string, number, number][] = [];
  for (const p of paths) {
    const s = await stat(join(m.instance!.dataDir, p));
    out.push([p, s.size, s.blocks * 512]);
  }
  return out;
}

async function expectArchiveSparse(m: Materialized): Promise<void> {
  const files = await archiveFiles(m);
  expect(files.length).toBe(5); // heap, TOAST table, TOAST index, primary key, kind index
  const apparent = files.reduce((n, f) => n + f[1], 0);
  const allocated = files.reduce((n, f) => n + f[2], 0);
  expect(apparent).toBeGreaterThan(30 * 1024 * 1024);
  // Only what replay wrote (full-page images of the pages changed after the backup) is allocated.
  expect(allocated).toBeLessThan(apparent / 3);
}

describe('relation-level selective PITR restore (real PostgreSQL)', () => {
  it('plain backup by default: with less than 256 MB to leave out, so the database level, said in a note; the lost tables equal the truth', async () => {
    const m = await materializePitr(fx.config('plain') as any, request(), probe);
    try {
      await expectLostTablesEqualTruth(m);
      expect(m.notes.join(' ')).toMatch(/Relation-level restore not used \(database-level instead\): .* only .*, below 256 MB/);
      expect(m.notes.find((n) => n.startsWith('Selective restore'))).not.toContain('(relation-level)');
    } finally {
      await m.release();
    }
  });

  it('plain backup with --selective relations: the lost tables equal the truth, archive_big (heap, TOAST, indexes) sparse, the backup untouched', async () => {
    const before = await treeFingerprint(fx.backups.plain!);
    const m = await materializePitr(fx.config('plain') as any, request({ selective: 'relations' }), probe);
    try {
      await expectLostTablesEqualTruth(m);
      const note = m.notes.find((n) => n.startsWith('Selective restore'));
      expect(note).toContain('(relation-level)');
      expect(note).toContain('public.archive_big');
      expect(note).toContain('public.customers');
      console.log(`plain: ${note}`);
      await expectArchiveSparse(m);
    } finally {
      await m.release();
    }
    expect(await treeFingerprint(fx.backups.plain!)).toBe(before);
  });

  it('tar.gz backup with --selective relations: the same, the backup untouched', async () => {
    const before = await treeFingerprint(fx.backups.tar!);
    const m = await materializePitr(fx.config('tar') as any, request({ selective: 'relations' }), probe);
    try {
      await expectLostTablesEqualTruth(m);
      expect(m.notes.find((n) => n.startsWith('Selective restore'))).toContain('(relation-level)');
      await expectArchiveSparse(m);
    } finally {
      await m.release();
    }
    expect(await treeFingerprint(fx.backups.tar!)).toBe(before);
  });

  it('tar.gz backup without --selective: the database level (its catalog would cost another decompression pass)', async () => {
    const m = await materializePitr(fx.config('tar') as any, request(), probe);
    try {
      await expectLostTablesEqualTruth(m);
      const note = m.notes.find((n) => n.startsWith('Selective restore'));
      expect(note).toBeDefined();
      expect(note).not.toContain('relation-level');
    } finally {
      await m.release();
    }
  });

  it('tar backup with full_page_writes = off: what was left out is extracted after all', async () => {
    const folder = join(fx.root, 'backups', 'nofpw-tar-rel');
    await tarBackupWithFpwOff(join(fx.backups.tar!, 'b1'), folder, join(fx.root, 'nofpw-x-rel'));
    const m = await materializePitr({ ...fx.config('tar'), base_backups: folder } as any, request({ selective: 'relations' }), probe);
    try {
      expect(m.notes.join(' ')).toContain('Full restore (not selective): full_page_writes = off');
      await expectLostTablesEqualTruth(m);
      const files = await archiveFiles(m);
      expect(files.reduce((n, f) => n + f[2], 0)).toBeGreaterThan(files.reduce((n, f) => n + f[1], 0) * 0.9);
    } finally {
      await m.release();
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('a kept instance (--keep) is restored at the database level by default: its other tables are readable', async () => {
    const m = await materializePitr(fx.config('plain') as any, request({ keep: true }), probe);
    try {
      expect(m.notes.join(' ')).not.toContain('relation-level');
      const n = await withClient(m.conn, (c) => c.query<{ n: string }>('select count(*)::text as n from customers'));
      expect(n.rows[0]!.n).toBe('500');
    } finally {
      // kept instances are not removed by destroy(): stop and remove it here
      await m.instance!.stop('fast');
      await rm(m.instance!.root, { recursive: true, force: true });
    }
  });

  it("--selective database leaves shop whole", async () => {
    const m = await materializePitr(fx.config('plain') as any, request({ selective: 'database' }), probe);
    try {
      await expectLostTablesEqualTruth(m);
      const files = await archiveFiles(m);
      expect(files.reduce((n, f) => n + f[2], 0)).toBeGreaterThan(files.reduce((n, f) => n + f[1], 0) * 0.9);
      expect(m.notes.join(' ')).not.toContain('relation-level');
    } finally {
      await m.release();
    }
  });

  it('the plan from the backup leaves out archive_big, customers, their TOAST and indexes, and nothing of the lost tables', async () => {
    const dir = join(fx.backups.plain!, 'b1', 'base', String(fx.oids.shop));
    const cat = await plainCatalog(dir);
    const d = planRelations(cat, fx.oids.shop!, fx.tables);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.plan.sparseTables).toEqual(['public.archive_big', 'public.customers']);
    const byName = new Map(cat.classes.map((c) => [c.relname, c]));
    for (const lost of ['orders', 'items', 'orders_pkey', 'items_pkey', 'items_sku_idx']) expect(d.plan.sparse.has(byName.get(lost)!.relfilenode)).toBe(false);
    for (const out of ['archive_big', 'archive_big_pkey', 'archive_big_kind', 'customers', 'customers_pkey']) expect(d.plan.sparse.has(byName.get(out)!.relfilenode)).toBe(true);
    const toast = cat.classes.find((c) => c.oid === byName.get('archive_big')!.reltoastrelid)!;
    expect(d.plan.sparse.has(toast.relfilenode)).toBe(true);
    // no catalog: every sparse filenode is a user relation's
    expect([...d.plan.sparse].every((fn) => fn >= 16384)).toBe(true);
    expect([...cat.mapped.values()].some((fn) => d.plan.sparse.has(fn))).toBe(false);
  });
});

describe('pg_class, pg_namespace, pg_index from the files equal the server\'s own', () => {
  it('on a fresh instance with a schema, tables, TOAST, indexes, a sequence, an unlogged table, a renamed and a rewritten table', async () => {
    const inst = await TempInstance.create({ bin: fx.bin, workDir: testWorkDir(), name: 'pgclass' });
    try {
      await inst.start();
      await inst.query(`create schema "Sales Ä";
        create table "Sales Ä"."Order Items" (id serial primary key, doc jsonb, note text);
        create unlogged table scratch (x int);
        create table rewritten (x int primary key);
        create index on "Sales Ä"."Order Items" ((doc->>'k'));`);
      // VACUUM runs alone (not in a multi-statement query's implicit transaction)
      for (const v of ['vacuum full rewritten', 'vacuum full pg_class', 'vacuum full pg_namespace']) await inst.query(v);
      // after pg_class's rewrite (which drops dead rows): a rename leaves the old version on the page
      await inst.query('create table renamed_from (x int); alter table renamed_from rename to renamed_to; checkpoint;');
      const db = (await inst.query<{ oid: number }>("select oid::int as oid from pg_database where datname = 'postgres'")).rows[0]!.oid;
      const dir = join(inst.dataDir, 'base', String(db));
      const live = (
        await inst.query<Record<string, string | number>>(`select oid::int as oid, relname, relnamespace::int as relnamespace, relfilenode::int as relfilenode, reltablespace::int as reltablespace,
          reltoastrelid::int as reltoastrelid, relpersistence::text as relpersistence, relkind::text as relkind, pg_relation_filenode(oid)::int as fn from pg_class`)
      ).rows;
      const map = parseFilenodeMap(await readFile(join(dir, 'pg_filenode.map')));
      const cat = await plainCatalog(dir);
      const key = (r: Record<string, unknown>) => JSON.stringify([r.oid, r.relname, r.relnamespace, r.relfilenode, r.reltablespace, r.reltoastrelid, r.relpersistence, r.relkind]);
      const parsed = new Set(cat.classes.map(key));
      const missing = live.filter((r) => !parsed.has(key(r)));
      expect(missing).toEqual([]);
      // mapped catalogs (relfilenode 0) have their filenode in pg_filenode.map; pg_class was rewritten and moved
      for (const r of live.filter((x) => x.relfilenode === 0 && x.reltablespace === 0 && x.fn !== null)) expect(map.get(r.oid as number)).toBe(r.fn);
      expect(map.get(1259)).not.toBe(1259);
      // dead versions are kept: the renamed table's old name is there too
      expect(cat.classes.filter((c) => c.relname === 'renamed_from').length).toBeGreaterThan(0);
      const ns = (await inst.query<{ oid: number; nspname: string }>('select oid::int as oid, nspname from pg_namespace')).rows;
      for (const n of ns) expect(cat.namespaces).toContainEqual(n);
      const idx = (await inst.query<{ indexrelid: number; indrelid: number }>('select indexrelid::int as indexrelid, indrelid::int as indrelid from pg_index')).rows;
      for (const i of idx) expect(cat.indexes).toContainEqual(i);
    } finally {
      await inst.destroy();
    }
  });
});
