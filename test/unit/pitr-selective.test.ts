// Selective PITR restore: the pure parts (plan, configuration, tar listing,
// exclusion patterns) and the pg_database parser's refusals on pages that do
// not look right. The parser on a real global/1262 is in
// test/integration/pitr-selective.test.ts.
import { describe, expect, it } from 'vitest';
import { parsePgDatabase } from '../../src/sources/materialize/selective/pg-database.js';
import { HeapParseError } from '../../src/sources/materialize/selective/heap-reader.js';
import { confSetting, isOff, planSelective } from '../../src/sources/materialize/selective/plan.js';
import { isSparseMember, parseTarListing, tarExcludes, tarSplit } from '../../src/sources/pitr/selective-tar.js';

const rows = (list: [number, string][]) => list.map(([oid, datname], i) => ({ oid, datname, block: 0, item: i + 1 }));

/** One heap page holding pg_database-like tuples (PostgreSQL ≥ 12 layout). */
function page(tuples: [number, string][], o: { sizeVersion?: number; hoff?: number } = {}): Buffer {
  const p = Buffer.alloc(8192);
  let upper = 8192;
  tuples.forEach(([oid, name], i) => {
    const hoff = o.hoff ?? 24;
    const len = hoff + 4 + 64 + 8;
    upper -= Math.ceil(len / 8) * 8;
    const t = p.subarray(upper, upper + len);
    t.writeUInt16LE(0x0902, 20);
    t[22] = hoff;
    t.writeUInt32LE(oid, hoff);
    t.write(name, hoff + 4, 'utf8');
    const lp = (upper & 0x7fff) | (1 << 15) | (len << 17);
    p.writeUInt32LE(lp >>> 0, 24 + i * 4);
  });
  p.writeUInt16LE(24 + tuples.length * 4, 12);
  p.writeUInt16LE(upper, 14);
  p.writeUInt16LE(8192, 16);
  p.writeUInt16LE(o.sizeVersion ?? 8192 | 4, 18);
  return p;
}

describe('pg_database parser', () => {
  it('reads oid and datname from each normal line pointer, skipping new pages', () => {
    const file = Buffer.concat([page([[1, 'template1'], [5, 'postgres'], [16384, 'shop']]), Buffer.alloc(8192)]);
    expect(parsePgDatabase(file, { major: 15 }).map((r) => [r.oid, r.datname])).toEqual([[1, 'template1'], [5, 'postgres'], [16384, 'shop']]);
  });

  it('refuses what it cannot read with certainty', () => {
    expect(() => parsePgDatabase(Buffer.alloc(100), { major: 15 })).toThrow(HeapParseError);
    expect(() => parsePgDatabase(page([[1, 'template1']], { sizeVersion: 4096 | 4 }), { major: 15 })).toThrow(/page size/);
    expect(() => parsePgDatabase(page([[1, 'template1']], { hoff: 27 }), { major: 15 })).toThrow(/t_hoff/);
    expect(() => parsePgDatabase(page([[16384, 'shop']]), { major: 15 })).toThrow(/template1/);
    const garbage = Buffer.alloc(8192, 0x41);
    expect(() => parsePgDatabase(garbage, { major: 15 })).toThrow(HeapParseError);
    // before PostgreSQL 12 the oid lives in the tuple header: a 15-style page does not parse as 11
    expect(() => parsePgDatabase(page([[1, 'template1']]), { major: 11 })).toThrow(/no OID/);
  });
});

describe('planSelective', () => {
  const cat = rows([[1, 'template1'], [4, 'template0'], [5, 'postgres'], [16384, 'shop'], [16390, 'bulk'], [16400, 'shop'], [16410, 'other']]);

  it('keeps system databases, every OID named like the target (dead rows too) and unknown folders; leaves the rest sparse', () => {
    const d = planSelective(cat, 'shop', [1, 4, 5, 16384, 16390, 16400, 16410, 16500]);
    expect(d.selective).toBe(true);
    if (!d.selective) return;
    expect(d.plan.matched).toEqual([16384, 16400]);
    expect(d.plan.full).toEqual([1, 4, 5, 16384, 16400, 16500]);
    expect(d.plan.unknown).toEqual([16500]);
    expect(d.plan.sparse).toEqual([16390, 16410]);
  });

  it('falls back when the name is unknown, its folder is missing, or there is nothing to leave out', () => {
    expect(planSelective(cat, 'nosuch', [1, 4, 5, 16384])).toMatchObject({ selective: false, reason: expect.stringContaining('not in the backup') });
    expect(planSelective(cat, 'other', [1, 4, 5, 16384])).toMatchObject({ selective: false, reason: expect.stringContaining('no folder') });
    expect(planSelective(cat, 'shop', [1, 4, 5, 16384])).toMatchObject({ selective: false, reason: expect.stringContaining('no other database') });
    // names are compared exactly (PostgreSQL identifiers are case-sensitive once created)
    expect(planSelective(cat, 'Shop', [1, 4, 5, 16384, 16390])).toMatchObject({ selective: false });
  });
});

describe('full_page_writes in configuration files', () => {
  it('takes the last setting, quoted or not, ignoring comments', () => {
    expect(confSetting('#full_page_writes = off\nfull_page_writes = on # x\n', 'full_page_writes')).toBe('on');
    expect(confSetting("full_page_writes='off'\n", 'full_page_writes')).toBe('off');
    expect(confSetting('FULL_PAGE_WRITES false\n', 'full_page_writes')).toBe('false');
    expect(confSetting('full_page_writes_x = off\n', 'full_page_writes')).toBeUndefined();
    expect(confSetting('wal_level = replica\n', 'full_page_writes')).toBeUndefined();
  });
  it('knows the spellings of off', () => {
    for (const v of ['off', 'OFF', 'false', 'no', '0', 'of', 'f', 'n']) expect(isOff(v)).toBe(true);
    for (const v of ['on', 'true', 'yes', '1', 'o']) expect(isOff(v)).toBe(false);
  });
});

describe('tar members', () => {
  const listing = [
    'drwx------ postgres/postgres 0 2026-11-25 01:28 base/16390/',
    '-rw------- postgres/postgres 8192 2026-11-25 01:28 base/16390/1259',
    '-rw------- postgres/postgres 1073741824 2026-11-25 01:28 base/16390/16400.1',
    '-rw------- postgres/postgres 24576 2026-11-25 01:28 base/16390/16400_fsm',
    '-rw------- postgres/postgres 3 2026-11-25 01:28 base/16390/PG_VERSION',
    '-rw------- postgres/postgres 512 2026-11-25 01:28 base/16390/pg_filenode.map',
    '-rw------- postgres/postgres 8192 2026-11-25 01:28 base/16384/1259',
    '-rw------- postgres/postgres 8192 2026-11-25 01:28 global/1262',
  ].join('\n');

  it('parses GNU tar -tvf output (regular files only)', () => {
    const m = parseTarListing(listing);
    expect(m).toHaveLength(7);
    expect(m[1]).toEqual({ path: 'base/16390/16400.1', size: 1073741824 });
  });

  it('leaves relation files of left-out databases sparse, never PG_VERSION or pg_filenode.map', () => {
    const s = new Set([16390]);
    expect(isSparseMember('base/16390/16400_fsm', s)).toBe(true);
    expect(isSparseMember('base/16390/PG_VERSION', s)).toBe(false);
    expect(isSparseMember('base/16390/pg_filenode.map', s)).toBe(false);
    expect(isSparseMember('base/16384/1259', s)).toBe(false);
    expect(isSparseMember('global/1262', s)).toBe(false);
    const plan = { database: 'shop', matched: [16384], full: [16384], sparse: [16390], unknown: [], names: new Map() };
    const split = tarSplit(parseTarListing(listing), plan);
    expect(split.sparse.map((x) => x.path)).toEqual(['base/16390/1259', 'base/16390/16400.1', 'base/16390/16400_fsm']);
    expect(split.fullBytes).toBe(3 + 512 + 8192 + 8192);
    expect(tarExcludes(plan)).toEqual(['--anchored', '--exclude=base/16390/[0-9]*']);
  });
});
