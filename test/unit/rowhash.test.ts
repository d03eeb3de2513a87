import { describe, expect, it } from 'vitest';
import { algorithmOf, checksumSql, formatChecksum, type HashFingerprint, rowHashAgrees, tableAlgorithm } from '../../src/recovery/checksum.js';
import { type ColumnTypeNode, rowCanarySql, ROWHASH_TYPES, rowHashVerdict } from '../../src/recovery/rowhash.js';

const node = (oid: number, type: string, typtype = 'b', collation: string | null = null, deterministic: boolean | null = null): ColumnTypeNode => ({ oid, type, typtype, collation, deterministic });
const INT8 = node(20, 'bigint');
const TEXT = node(25, 'text', 'b', 'default', true);
const NUMERIC = node(1700, 'numeric');
const JSONB = node(3802, 'jsonb');
const TSTZ = node(1184, 'timestamp with time zone');

describe('rowhash64 eligibility: from the types under a table’s columns', () => {
  it('accepts built-in types that hash by value, through domains, composites and ranges', () => {
    expect(rowHashVerdict([INT8, TEXT, NUMERIC, JSONB, TSTZ])).toEqual({ eligible: true });
    // a domain over integer ("Sales".positive_qty): the domain node and its base
    expect(rowHashVerdict([node(16500, '"Sales".positive_qty', 'd'), node(23, 'integer')])).toEqual({ eligible: true });
    expect(rowHashVerdict([node(16600, 'address', 'c'), TEXT, node(23, 'integer')])).toEqual({ eligible: true });
    expect(rowHashVerdict([node(3904, 'int4range', 'r'), node(23, 'integer')])).toEqual({ eligible: true });
  });
  it('refuses enums, types without a by-value hash, arrays, extension types and nondeterministic collations', () => {
    const no = (nodes: ColumnTypeNode[]) => {
      const v = rowHashVerdict(nodes);
      expect(v.eligible).toBe(false);
      return v.eligible ? '' : v.reason;
    };
    expect(no([INT8, node(16400, 'mood', 'e')])).toMatch(/mood is an enum.*OID/);
    expect(no([INT8, node(114, 'json')])).toMatch(/json has no by-value hash/);
    expect(no([node(600, 'point')])).toMatch(/point/);
    expect(no([node(1007, 'integer[]')])).toMatch(/integer\[\]/); // arrays: their hash ignores dimensions
    expect(no([node(16700, 'citext', 'b', 'default', true)])).toMatch(/citext/);
    expect(no([INT8, node(25, 'text', 'b', 'und-ci', false)])).toMatch(/collation und-ci is nondeterministic/);
    // hidden under a domain, a composite or a range: still found (the query walks them)
    expect(no([node(16800, 'd_mood', 'd'), node(16400, 'mood', 'e')])).toMatch(/enum/);
    expect(no([node(16900, 'pair', 'c'), node(114, 'json')])).toMatch(/json/);
    expect(no([node(4451, 'int4multirange', 'm')])).toMatch(/multirange/);
    expect(no([])).toMatch(/no column types/);
  });
});

describe('rowhash64 algorithm choice and SQL', () => {
  const fp = (o: Partial<HashFingerprint> = {}): HashFingerprint => ({ encoding: 'UTF8', canary: '1/2', version: 150004, rowCanary: '5/6', ...o });
  it('needs both servers ≥ 14, hashing text and rows alike, and an eligible table', () => {
    const yes = { eligible: true as const };
    const no = { eligible: false as const, reason: 'enum' };
    expect(tableAlgorithm(fp(), fp(), yes)).toBe('rowhash64'); // rowhash128 is never chosen any more
    expect(tableAlgorithm(fp(), fp(), no)).toBe('hash128');
    expect(tableAlgorithm(fp(), fp({ version: 130010, rowCanary: null }), yes)).toBe('hash128');
    expect(tableAlgorithm(fp(), fp({ rowCanary: '7/8' }), yes)).toBe('hash128');
    expect(tableAlgorithm(fp(), fp({ encoding: 'LATIN1' }), yes)).toBe('md5sum');
    expect(tableAlgorithm(fp(), fp({ canary: '3/4' }), yes)).toBe('md5sum');
    expect(rowHashAgrees(fp(), { encoding: 'UTF8', canary: '1/2' })).toBe(false); // a fingerprint recorded before: no row canary
  });
  it('rowhash64: one value hash per row (no text), in a subquery kept by OFFSET 0, mixed under two seeds; the checksum names it', () => {
    const sql = checksumSql({ schema: 'Sales', name: 'we"ird;name' }, 'rowhash64');
    expect(sql).toContain('FROM (SELECT hash_record_extended(r.*, 0)::text AS h FROM "Sales"."we""ird;name" AS r OFFSET 0) AS hashed');
    expect(sql.match(/hash_record_extended/g)).toHaveLength(1);
    expect(sql).toContain('sum(hashtextextended(h, 0))');
    expect(sql).toContain('sum(hashtextextended(h, 1))');
    expect(sql).not.toMatch(/r\.\*\)::text AS h|ORDER BY/i);
    expect(formatChecksum(3, '-1', '2', 'rowhash64')).toBe('rowhash64:-1:2');
  });
  it('rowhash128 (recorded checksums): the row hashed under seeds 0 and 1, each mixed, as before', () => {
    const sql = checksumSql({ schema: 'Sales', name: 'we"ird;name' }, 'rowhash128');
    expect(sql).toContain('FROM "Sales"."we""ird;name" AS r');
    expect(sql).toContain('hashtextextended(hash_record_extended(r.*, 0)::text, 0)');
    expect(sql).toContain('hashtextextended(hash_record_extended(r.*, 1)::text, 0)');
    expect(sql).not.toContain('AS h FROM');
  });
  it('every algorithm takes the whole row as r.*, never a bare r (a column named r would shadow it)', () => {
    for (const a of ['rowhash64', 'rowhash128', 'hash128', 'md5sum'] as const) {
      const sql = checksumSql({ schema: 'public', name: 't' }, a);
      expect(sql, a).toContain('r.*');
      expect(sql, a).not.toMatch(/\(r(?![.\w])|\sr::/);
    }
  });
  it('algorithmOf reads the prefix: rowhash64 and rowhash128 are different algorithms', () => {
    expect(algorithmOf('rowhash64:-1:2')).toBe('rowhash64');
    expect(algorithmOf('rowhash128:-1:2')).toBe('rowhash128');
    expect(algorithmOf('hash128:1:2')).toBe('hash128');
    expect(algorithmOf('md5sum:1:2')).toBe('md5sum');
    expect(algorithmOf('empty')).toBeUndefined();
  });
  it('the row canary holds one sample of every accepted type', () => {
    const sql = rowCanarySql();
    expect(sql.match(/::/g)!.length).toBeGreaterThanOrEqual(ROWHASH_TYPES.size - 1); // `true` needs no cast
    expect(sql).toContain("'{\"k\": [1, 2.5, \"s\", null, true]}'::jsonb");
    expect(sql).toContain('hash_record_extended(ROW(true, ');
    // the canary hashes as rowhash64 does: one row hash, mixed under seeds 0 and 1
    expect(sql.match(/hash_record_extended/g)).toHaveLength(1);
    expect(sql).toContain('hashtextextended(h, 0)');
    expect(sql).toContain('hashtextextended(h, 1)');
    expect(sql).toMatch(/, 0\)::text AS h OFFSET 0\)/);
  });
});
