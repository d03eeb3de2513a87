import { describe, expect, it } from 'vitest';
import { algorithmOf, checksumSql, formatChecksum, type HashFingerprint, tableAlgorithm } from '../../src/recovery/checksum.js';
import { colCanarySql, COLHASH_CONVERSIONS, COLHASH_FUNCTIONS, colHashMixes, colHashRow } from '../../src/recovery/colhash.js';
import { ROWHASH_TYPES } from '../../src/recovery/rowhash.js';

describe('colhash64: each column hashed where it lies', () => {
  it('hashes a direct type by its own function under its position as seed, NULL as the seed; the rest as one record', () => {
    const h = colHashRow([
      { value: 'r."id"', typeOid: 20 },
      { value: 'r."at"', typeOid: 1184 }, // timestamptz: its hash function takes timestamp
      { value: 'r."note"', typeOid: 25 },
      { value: 'r."flag"', typeOid: 16 },
      { value: 'r."day"', typeOid: 1082 }, // date: through the record (a conversion could fail out of range)
      { value: 'r."blob"', typeOid: 17 },
    ]);
    expect(h).toBe(
      'coalesce(hashint8extended(r."id", 1), 1) # coalesce(timestamp_hash_extended(timezone(interval \'0\', r."at"), 2), 2) # coalesce(hashtextextended(r."note", 3), 3) # coalesce(hashint4extended((r."flag")::int4, 4), 4) # hash_record_extended(ROW(r."day", r."blob"), 0)',
    );
    expect(colHashRow([])).toBe('0::int8');
  });
  it('a NOT NULL column needs no NULL test: the same hash for every value it can hold', () => {
    expect(colHashRow([{ value: 'r."id"', typeOid: 20, notNull: true }, { value: 'r."at"', typeOid: 1184, notNull: true }, { value: 'r."x"', typeOid: 1082, notNull: true }])).toBe(
      'hashint8extended(r."id", 1) # timestamp_hash_extended(timezone(interval \'0\', r."at"), 2) # hash_record_extended(ROW(r."x"), 0)',
    );
  });
  it('mixes the row hash through both 32-bit halves, under four seeds', () => {
    expect(colHashMixes('h')).toEqual(['hashint8extended((h & 4294967295), 0) # hashint8extended((h >> 32), 1)', 'hashint8extended((h & 4294967295), 2) # hashint8extended((h >> 32), 3)']);
  });
  it('quotes the table and columns, keeps the row hash in a subquery (OFFSET 0), never takes the whole row', () => {
    const sql = checksumSql({ schema: 'Sales', name: 'we"ird;name' }, 'colhash64', [{ name: 'r', typeOid: 23 }, { name: 'Item Name', typeOid: 1043 }]);
    expect(sql).toContain('FROM (SELECT coalesce(hashint4extended(r."r", 1), 1) # coalesce(hashtextextended(r."Item Name", 2), 2) AS h FROM "Sales"."we""ird;name" AS r OFFSET 0) AS hashed');
    expect(sql).not.toContain('r.*');
    expect(checksumSql({ schema: 'public', name: 't' }, 'colhash64', [{ name: 'a', typeOid: 23 }])).toContain('hashint4extended(r."a", 1)');
    expect(() => checksumSql({ schema: 'public', name: 't' }, 'colhash64')).toThrow(/columns/);
  });
  it('directly hashes only types rowhash64 accepts; the canary covers every accepted type', () => {
    for (const oid of [...COLHASH_FUNCTIONS.keys(), ...COLHASH_CONVERSIONS.keys()]) expect(ROWHASH_TYPES.has(oid), String(oid)).toBe(true);
    const canary = colCanarySql();
    for (const value of ROWHASH_TYPES.values()) expect(canary).toContain(value);
  });
  it('is chosen over rowhash64 when both servers agree on its canary; the checksum names it', () => {
    const fp = (o: Partial<HashFingerprint> = {}): HashFingerprint => ({ encoding: 'UTF8', canary: '1/2', version: 150004, rowCanary: '5/6', colCanary: '7/8', ...o });
    const yes = { eligible: true } as const;
    expect(tableAlgorithm(fp(), fp(), yes)).toBe('colhash64');
    expect(tableAlgorithm(fp(), fp({ colCanary: '9/9' }), yes)).toBe('rowhash64');
    expect(tableAlgorithm(fp(), fp({ colCanary: undefined }), yes)).toBe('rowhash64'); // a fingerprint recorded before colhash64
    expect(tableAlgorithm(fp(), fp({ rowCanary: '0/0' }), yes)).toBe('hash128');
    expect(tableAlgorithm(fp(), fp(), { eligible: false, reason: 'json' })).toBe('hash128');
    expect(formatChecksum(3, '-1', '2', 'colhash64')).toBe('colhash64:-1:2');
    expect(algorithmOf('colhash64:-1:2')).toBe('colhash64');
  });
});
