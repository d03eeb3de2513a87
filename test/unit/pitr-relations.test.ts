// Relation-level selective restore, the pure parts: pg_filenode.map, the plan
// (what is left sparse and, above all, what never is), fork and segment names,
// tar splitting and exclusion. The readers on real files are in
// test/integration/pitr-relations.test.ts.
import { describe, expect, it } from 'vitest';
import { HeapParseError } from '../../src/sources/materialize/selective/heap-reader.js';
import { type BackupCatalog, type ClassRow, parseFilenodeMap } from '../../src/sources/materialize/selective/pg-class.js';
import { isSparseRelationFile, planRelations, RELATION_LEVEL_MIN_BYTES, relationFile, relationSparseBytes } from '../../src/sources/materialize/selective/relation-plan.js';
import { mainSegments } from '../../src/sources/materialize/selective/relation-source.js';
import type { SelectivePlan } from '../../src/sources/materialize/selective/plan.js';
import { tarExcludes, tarSplit } from '../../src/sources/pitr/selective-tar.js';

const PUBLIC = 2200;
const cls = (oid: number, relname: string, o: Partial<ClassRow> = {}): ClassRow => ({ oid, relname, relnamespace: PUBLIC, relfilenode: oid, reltablespace: 0, reltoastrelid: 0, relpersistence: 'p', relkind: 'r', ...o });

/** shop: lost orders (TOAST 20001, index 20002), big (TOAST 20011 + its index 20012, pkey 20013), a sequence, catalogs. */
function catalog(extra: Partial<BackupCatalog> = {}, classes: ClassRow[] = []): BackupCatalog {
  return {
    mapped: new Map([[1259, 1259], [1249, 1249]]),
    namespaces: [{ oid: 11, nspname: 'pg_catalog' }, { oid: 99, nspname: 'pg_toast' }, { oid: PUBLIC, nspname: 'public' }, { oid: 13000, nspname: 'information_schema' }],
    classes: [
      cls(1259, 'pg_class', { relnamespace: 11, relfilenode: 0 }),
      cls(2615, 'pg_namespace', { relnamespace: 11 }),
      cls(13100, 'sql_features', { relnamespace: 13000 }),
      cls(20000, 'orders', { reltoastrelid: 20001 }),
      cls(20001, 'pg_toast_20000', { relnamespace: 99, relkind: 't' }),
      cls(20002, 'orders_pkey', { relkind: 'i' }),
      cls(20010, 'big', { reltoastrelid: 20011 }),
      cls(20011, 'pg_toast_20010', { relnamespace: 99, relkind: 't' }),
      cls(20012, 'pg_toast_20010_index', { relnamespace: 99, relkind: 'i' }),
      cls(20013, 'big_pkey', { relkind: 'i' }),
      cls(20020, 'orders_id_seq', { relkind: 'S' }),
      ...classes,
    ],
    indexes: [{ indexrelid: 20002, indrelid: 20000 }, { indexrelid: 20012, indrelid: 20011 }, { indexrelid: 20013, indrelid: 20010 }, ...(extra.indexes ?? [])],
    inherits: extra.inherits ?? [],
    ...(extra.mapped ? { mapped: extra.mapped } : {}),
  };
}
const orders = [{ schema: 'public', name: 'orders' }];
const sparseOf = (cat: BackupCatalog, tables = orders) => {
  const d = planRelations(cat, 16384, tables);
  if (!d.ok) throw new Error(d.reason);
  return [...d.plan.sparse].sort();
};

describe('planRelations', () => {
  it('leaves out the other user table with its TOAST, TOAST index and index; never catalogs, the lost table, its TOAST, index or sequence', () => {
    expect(sparseOf(catalog())).toEqual([20010, 20011, 20012, 20013]);
    const d = planRelations(catalog(), 16384, orders);
    expect(d.ok && d.plan.sparseTables).toEqual(['public.big']);
    expect(d.ok && d.plan.lost).toEqual([20000]);
  });

  it('a lost table not in the backup, or not a plain table there, is a fallback with a reason', () => {
    expect(planRelations(catalog(), 16384, [{ schema: 'public', name: 'gone' }])).toMatchObject({ ok: false, reason: expect.stringContaining('not in the backup') });
    expect(planRelations(catalog(), 16384, [{ schema: 'other', name: 'orders' }])).toMatchObject({ ok: false });
    const part = catalog({}, [cls(20030, 'events', { relkind: 'p', relfilenode: 0 })]);
    expect(planRelations(part, 16384, [{ schema: 'public', name: 'events' }])).toMatchObject({ ok: false, reason: expect.stringContaining('partitioned table') });
    expect(planRelations(catalog({}, []), 16384, [{ schema: 'public', name: 'big' }, { schema: 'public', name: 'orders' }])).toMatchObject({ ok: false, reason: expect.stringContaining('no other user table') });
  });

  it('every tuple version counts: a table renamed from a lost name, or once something else, stays real', () => {
    // big was called orders before: both names are candidates for the lost table
    const renamed = catalog({}, [cls(20010, 'orders', { reltoastrelid: 20011 })]);
    expect(planRelations(renamed, 16384, orders)).toMatchObject({ ok: false, reason: expect.stringContaining('no other user table') });
    // a version of big that was a materialized view (impossible in practice, but undecidable): stays real
    const odd = catalog({}, [cls(20010, 'big', { relkind: 'm' })]);
    expect(sparseOf(catalog({}, [cls(20050, 'other')]))).toContain(20050);
    expect(() => sparseOf(odd)).toThrow(/no other user table/);
  });

  it('a filenode also named by a relation that stays is real; unknown schemas, temp, tablespace, inheritance stay real', () => {
    // big rewritten: old filenode 20010, new 30010; orders' index once used 30010 (impossible, but then real)
    expect(sparseOf(catalog({}, [cls(20010, 'big', { relfilenode: 30010, reltoastrelid: 20011 }), cls(20002, 'orders_pkey', { relkind: 'i', relfilenode: 30010 })]))).toEqual([20010, 20011, 20012, 20013]);
    const more = catalog({ inherits: [{ inhrelid: 20041, inhparent: 20040 }] }, [
      cls(20030, 'nowhere', { relnamespace: 55555 }),
      cls(20031, 'tmp', { relpersistence: 't' }),
      cls(20032, 'elsewhere', { reltablespace: 16500 }),
      cls(20040, 'parent'),
      cls(20041, 'child'),
      cls(20042, 'unlogged', { relpersistence: 'u' }),
    ]);
    expect(sparseOf(more)).toEqual([20010, 20011, 20012, 20013, 20042]);
  });

  it('a mapped filenode is never sparse', () => {
    expect(sparseOf(catalog({ mapped: new Map([[1259, 20013]]) }))).toEqual([20010, 20011, 20012]);
  });

  it('an unqualified lost table matches in any schema', () => {
    const twice = catalog({}, [cls(20060, 'orders', { relnamespace: 16400 })]);
    twice.namespaces.push({ oid: 16400, nspname: 'archive' });
    const d = planRelations(twice, 16384, [{ name: 'orders' }]);
    expect(d.ok && d.plan.lost).toEqual([20000, 20060]);
  });
});

describe('relation files', () => {
  it('names forks and segments; _init stays real', () => {
    expect(relationFile('16390')).toEqual({ filenode: 16390, fork: 'main' });
    expect(relationFile('16390.12')).toEqual({ filenode: 16390, fork: 'main' });
    expect(relationFile('16390_vm')).toEqual({ filenode: 16390, fork: 'vm' });
    expect(relationFile('16390_fsm.1')).toEqual({ filenode: 16390, fork: 'fsm' });
    expect(relationFile('pg_filenode.map')).toBeUndefined();
    expect(relationFile('PG_VERSION')).toBeUndefined();
    expect(relationFile('t3_16390')).toBeUndefined();
    const plan = { database: 16384, sparse: new Set([16390]), sparseTables: [], lost: [] };
    expect(['16390', '16390.1', '16390_fsm', '16390_vm'].every((n) => isSparseRelationFile(n, plan))).toBe(true);
    expect(isSparseRelationFile('16390_init', plan)).toBe(false);
    expect(isSparseRelationFile('163901', plan)).toBe(false);
    expect(mainSegments(['16390.2', '16390_fsm', '16390', '163901', '16390.10', '16390.1'], 16390)).toEqual(['16390', '16390.1', '16390.2', '16390.10']);
  });

  it('tar: the target database\'s left-out files are split out and excluded by exact name', () => {
    const plan: SelectivePlan = { database: 'shop', matched: [16384], full: [1, 4, 5, 16384], sparse: [16390], unknown: [], names: new Map(), relations: { database: 16384, sparse: new Set([20010]), sparseTables: ['public.big'], lost: [20000] } };
    const members = [
      { path: 'base/16384/20010', size: 8192 * 100 },
      { path: 'base/16384/20010_vm', size: 8192 },
      { path: 'base/16384/20010_init', size: 8192 },
      { path: 'base/16384/20000', size: 8192 * 5 },
      { path: 'base/16384/pg_filenode.map', size: 512 },
      { path: 'base/16390/20010', size: 8192 * 7 },
      { path: 'base/16390/PG_VERSION', size: 3 },
      { path: 'global/1262', size: 8192 },
    ];
    const split = tarSplit(members, plan);
    expect(split.relation.map((m) => m.path)).toEqual(['base/16384/20010', 'base/16384/20010_vm']);
    expect(split.sparse.map((m) => m.path)).toEqual(['base/16384/20010', 'base/16384/20010_vm', 'base/16390/20010']);
    expect(split.fullBytes).toBe(8192 + 8192 * 5 + 512 + 3 + 8192);
    expect(tarExcludes(plan, '/w/list')).toEqual(['--anchored', '--exclude=base/16390/[0-9]*', '--no-wildcards', '--exclude-from=/w/list']);
  });
});

describe('pg_filenode.map', () => {
  const map = (magic: number, pairs: [number, number][]) => {
    const b = Buffer.alloc(512);
    b.writeInt32LE(magic, 0);
    b.writeInt32LE(pairs.length, 4);
    pairs.forEach(([o, f], i) => {
      b.writeUInt32LE(o, 8 + i * 8);
      b.writeUInt32LE(f, 12 + i * 8);
    });
    return b;
  };
  it('reads the pairs; refuses a wrong magic or count', () => {
    expect([...parseFilenodeMap(map(0x592717, [[1259, 16999], [1249, 1249]]))]).toEqual([[1259, 16999], [1249, 1249]]);
    expect(() => parseFilenodeMap(map(0x123, [[1259, 1259]]))).toThrow(HeapParseError);
    expect(() => parseFilenodeMap(map(0x592717, []))).toThrow(/mappings/);
    expect(() => parseFilenodeMap(Buffer.alloc(4))).toThrow(HeapParseError);
  });
});

describe('relation level by default: only when it leaves enough out', () => {
  it('counts the bytes of the sparse relations\' files, every fork but _init, every segment', () => {
    const plan = { database: 16384, sparse: new Set([16500]), sparseTables: ['public.big'], lost: [16400] };
    const files = [
      { name: '16500', size: 1 << 30 },
      { name: '16500.1', size: 1 << 29 },
      { name: '16500_fsm', size: 24576 },
      { name: '16500_init', size: 8192 },
      { name: '16400', size: 1 << 30 },
      { name: 'PG_VERSION', size: 3 },
    ];
    expect(relationSparseBytes(files, plan)).toBe((1 << 30) + (1 << 29) + 24576);
    expect(relationSparseBytes(files.slice(4), plan)).toBe(0);
    expect(RELATION_LEVEL_MIN_BYTES).toBe(256 * 1024 ** 2);
  });
});
