// rowhash128 on two real PostgreSQL instances: chosen per table from its
// column types; an eligible table is equal across servers when its rows are
// and differs when one row does; enum, json and nondeterministic-collation
// tables fall back to hash128 and still verify equal.
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { withClient } from '../../src/postgres/connect.js';
import { parseTableList, type TableName } from '../../src/postgres/identifiers.js';
import { type ChecksumAlgorithm, hashFingerprint, tableAlgorithms, tableChecksum } from '../../src/recovery/checksum.js';
import { copyBack, moveBackInSource } from '../../src/recovery/copy-back.js';
import { verifyCopy, verifyPairs } from '../../src/recovery/verify.js';
import { usePair } from './copyback-fixture.js';

// The types exist on both servers; production makes one enum first, so the enum's OIDs differ there.
const TYPES_SQL = `
CREATE TYPE mood AS ENUM ('calm', 'busy');
CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE DOMAIN qty AS integer CHECK (VALUE > 0);
CREATE TYPE price AS (amount numeric, currency text);
`;

const SOURCE_SQL = `${TYPES_SQL}
CREATE TABLE eligible (id bigint PRIMARY KEY, gone int, name text, amount numeric(12,2), n numeric, doc jsonb, at timestamptz, q qty, p price, flag boolean, u uuid);
INSERT INTO eligible SELECT g, g, CASE WHEN g % 10 = 0 THEN NULL ELSE 'name ' || g END, g / 7.0, 1.50, CASE WHEN g % 100 = 0 THEN jsonb_build_object('big', repeat(md5(g::text), 200)) ELSE jsonb_build_object('k', g, 'v', 'x' || g) END,
  timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute', 1 + g % 9, ROW(g / 3.0, 'EUR')::price, g % 2 = 0, md5(g::text)::uuid
  FROM generate_series(1, 3000) g;
ALTER TABLE eligible DROP COLUMN gone;
CREATE TABLE with_enum (id int PRIMARY KEY, m mood);
INSERT INTO with_enum SELECT g, CASE WHEN g % 2 = 0 THEN 'calm' ELSE 'busy' END::mood FROM generate_series(1, 500) g;
CREATE TABLE with_json (id int PRIMARY KEY, j json);
INSERT INTO with_json SELECT g, json_build_object('g', g) FROM generate_series(1, 500) g;
CREATE TABLE with_ci (id int PRIMARY KEY, s text COLLATE ci);
INSERT INTO with_ci SELECT g, CASE WHEN g % 2 = 0 THEN 'ABC' ELSE 'abc' END FROM generate_series(1, 500) g;
`;

const PRODUCTION_SQL = `CREATE TYPE shifts_the_oids AS ENUM ('x');\n${TYPES_SQL}`;

const fx = usePair({ sourceData: SOURCE_SQL, productionData: PRODUCTION_SQL, timeoutMs: 120_000 });

const TABLES = parseTableList('eligible, with_enum, with_json, with_ci');
const sum = (conn: typeof fx.pair.prodConn, t: TableName, algorithm: ChecksumAlgorithm) => withClient(conn, (c) => tableChecksum(c, t, { algorithm }));

describe('rowhash128, per table, across two real servers', () => {
  it('copy back picks rowhash128 for the eligible table, hash128 for enum, json and nondeterministic collation; every table verifies equal', async () => {
    const r = await copyBack({ bin: fx.pair.bin, source: { conn: fx.pair.sourceConn, database: 'postgres' }, production: fx.pair.prodConn, tables: TABLES, schema: 'rh', workDir: fx.pair.workDir });
    try {
      expect(r.checksums.algorithms).toEqual(['rowhash128', 'hash128', 'hash128', 'hash128']);
      expect(r.checksums.copy).toEqual(r.checksums.source);
      expect(r.checksums.copy.map((c) => c.checksum.split(':')[0])).toEqual(['rowhash128', 'hash128', 'hash128', 'hash128']);
      expect(r.checksums.copy.map((c) => c.rows)).toEqual([3000, 500, 500, 500]);
      // verify from scratch (no sums handed over) chooses the same way and agrees
      const v = await verifyCopy({ source: { conn: fx.pair.sourceConn, database: 'postgres' }, production: fx.pair.prodConn, pairs: verifyPairs(r), noThrow: true });
      expect(v.ok).toBe(true);
      expect(v.tables.map((t) => t.copy)).toEqual(r.checksums.copy);
      // why each fell back, read on the source (where copy back left the tables: its staging schema)
      const why = await withClient(fx.pair.sourceConn, async (c) => tableAlgorithms(c, await hashFingerprint(c), await withClient(fx.pair.prodConn, hashFingerprint), verifyPairs(r).map((p) => p.source)));
      expect(why.reasons[0]).toBeNull();
      expect(why.reasons[1]).toMatch(/mood is an enum/);
      expect(why.reasons[2]).toMatch(/json has no by-value hash/);
      expect(why.reasons[3]).toMatch(/collation ci is nondeterministic/);
      // the fallback is needed: the enum hashes by OID, so the same rows hash differently on the two servers
      const enumAt = { schema: r.sourceSchema, name: 'with_enum' };
      expect((await sum(fx.pair.sourceConn, enumAt, 'rowhash128')).checksum).not.toBe((await sum(fx.pair.prodConn, { schema: 'rh', name: 'with_enum' }, 'rowhash128')).checksum);
      // and a recorded rowhash128 checksum is recomputed alike later (promote's check)
      expect(await sum(fx.pair.prodConn, { schema: 'rh', name: 'eligible' }, 'rowhash128')).toEqual(r.checksums.copy[0]);
    } finally {
      await moveBackInSource({ conn: fx.pair.sourceConn, database: 'postgres' }, r);
      await withClient(fx.pair.prodConn, (c) => c.query('DROP SCHEMA rh CASCADE'));
    }
  }, 300_000);

  it('an eligible table: equal across servers when the rows are, different when one row differs', async () => {
    const r = await copyBack({ bin: fx.pair.bin, source: { conn: fx.pair.sourceConn, database: 'postgres' }, production: fx.pair.prodConn, tables: parseTableList('eligible'), schema: 'rh2', workDir: fx.pair.workDir });
    const copy = { schema: 'rh2', name: 'eligible' };
    const source = await sum(fx.pair.sourceConn, { schema: r.sourceSchema, name: 'eligible' }, 'rowhash128');
    try {
      expect(await sum(fx.pair.prodConn, copy, 'rowhash128')).toEqual(source);
      // Each change in a transaction on production that is rolled back: the checksum of the changed table, both yardsticks.
      const changed = async (sql: string) =>
        withClient(fx.pair.prodConn, async (c: pg.Client) => {
          await c.query('BEGIN');
          try {
            const n = (await c.query(sql)).rowCount;
            expect(n, sql).toBeGreaterThan(0);
            return { rowhash: await tableChecksum(c, copy, { inTransaction: true, algorithm: 'rowhash128' }), text: await tableChecksum(c, copy, { inTransaction: true, algorithm: 'hash128' }) };
          } finally {
            await c.query('ROLLBACK');
          }
        });
      // one byte in a (TOASTed) jsonb
      expect((await changed(`UPDATE rh2.eligible SET doc = jsonb_set(doc, '{big}', to_jsonb(overlay(doc->>'big' placing 'X' from 17 for 1))) WHERE id = 100`)).rowhash.checksum).not.toBe(source.checksum);
      expect((await changed(`UPDATE rh2.eligible SET doc = jsonb_set(doc, '{v}', '"y7"') WHERE id = 7`)).rowhash.checksum).not.toBe(source.checksum);
      // NULL vs empty string
      expect((await changed(`UPDATE rh2.eligible SET name = '' WHERE id = 10`)).rowhash.checksum).not.toBe(source.checksum);
      // values swapped between two rows (a plain sum of hash_record_extended would not see it: column hashes combine linearly)
      expect((await changed(`UPDATE rh2.eligible e SET amount = o.amount FROM rh2.eligible o WHERE (e.id, o.id) IN ((1, 2), (2, 1))`)).rowhash.checksum).not.toBe(source.checksum);
      // a field inside a composite, a timestamp one microsecond off, a boolean
      expect((await changed(`UPDATE rh2.eligible SET p.currency = 'EUx' WHERE id = 5`)).rowhash.checksum).not.toBe(source.checksum);
      expect((await changed(`UPDATE rh2.eligible SET at = at + interval '1 microsecond' WHERE id = 3`)).rowhash.checksum).not.toBe(source.checksum);
      expect((await changed(`UPDATE rh2.eligible SET flag = NOT flag WHERE id = 3`)).rowhash.checksum).not.toBe(source.checksum);
      // a row deleted and one duplicated (the count alone would not see the pair)
      expect((await changed(`WITH gone AS (DELETE FROM rh2.eligible WHERE id = 11 RETURNING id) INSERT INTO rh2.eligible SELECT 100000, name, amount, n, doc, at, q, p, flag, u FROM rh2.eligible WHERE id = 12 AND EXISTS (SELECT FROM gone)`)).rowhash.checksum).not.toBe(source.checksum);
      // What rowhash128 does not claim (README): numeric scale, equal under numeric's own `=`, hashes alike; the text yardstick sees it.
      const scale = await changed(`UPDATE rh2.eligible SET n = 1.5 WHERE id = 1`);
      expect(scale.rowhash.checksum).toBe(source.checksum);
      expect(scale.text.checksum).not.toBe((await sum(fx.pair.prodConn, copy, 'hash128')).checksum);
    } finally {
      await moveBackInSource({ conn: fx.pair.sourceConn, database: 'postgres' }, r);
      await withClient(fx.pair.prodConn, (c) => c.query('DROP SCHEMA rh2 CASCADE'));
    }
  }, 300_000);
});
