// colhash64 and rowhash64 on two real PostgreSQL instances: colhash64 chosen
// per table from its column types; an eligible table is equal across servers
// when its rows are and differs when one row does, on both; enum, json and nondeterministic-collation
// tables fall back to hash128 and still verify equal. rowhash128, no longer
// chosen, still recomputes and verifies a checksum recorded with it.
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { withClient } from '../../src/postgres/connect.js';
import { parseTableList, type TableName } from '../../src/postgres/identifiers.js';
import { algorithmOf, type ChecksumAlgorithm, checksumSql, hashFingerprint, tableAlgorithms, type TableChecksum, tableChecksum } from '../../src/recovery/checksum.js';
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
/** The Output lists of the scan nodes in an EXPLAIN (VERBOSE, FORMAT JSON) plan. */
const scanOutputs = (n: any): string[][] => (/Scan/.test(n['Node Type']) ? [n.Output] : (n.Plans ?? []).flatMap(scanOutputs));
const sum = (conn: typeof fx.pair.prodConn, t: TableName, algorithm: ChecksumAlgorithm) => withClient(conn, (c) => tableChecksum(c, t, { algorithm }));

describe('colhash64 and rowhash64, per table, across two real servers', () => {
  it('copy back picks colhash64 for the eligible table, hash128 for enum, json and nondeterministic collation; every table verifies equal', async () => {
    const r = await copyBack({ bin: fx.pair.bin, source: { conn: fx.pair.sourceConn, database: 'postgres' }, production: fx.pair.prodConn, tables: TABLES, schema: 'rh', workDir: fx.pair.workDir });
    try {
      expect(r.checksums.algorithms).toEqual(['colhash64', 'hash128', 'hash128', 'hash128']);
      expect(r.checksums.copy).toEqual(r.checksums.source);
      expect(r.checksums.copy.map((c) => c.checksum.split(':')[0])).toEqual(['colhash64', 'hash128', 'hash128', 'hash128']);
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
      for (const a of ['colhash64', 'rowhash64'] as const) {
        expect((await sum(fx.pair.sourceConn, enumAt, a)).checksum, a).not.toBe((await sum(fx.pair.prodConn, { schema: 'rh', name: 'with_enum' }, a)).checksum);
      }
      // and a recorded checksum is recomputed alike later (promote's check): colhash64, and rowhash64 as recorded before it
      expect(await sum(fx.pair.prodConn, { schema: 'rh', name: 'eligible' }, 'colhash64')).toEqual(r.checksums.copy[0]);
      const row64 = await sum(fx.pair.sourceConn, { schema: r.sourceSchema!, name: 'eligible' }, 'rowhash64');
      expect(row64.checksum).toMatch(/^rowhash64:/);
      expect(await sum(fx.pair.prodConn, { schema: 'rh', name: 'eligible' }, algorithmOf(row64.checksum)!)).toEqual(row64);
      // A checksum recorded with rowhash128 (a recovery made before rowhash64): recomputed with the algorithm it names
      // (promote's and the side records' check), and verify with it handed over compares on rowhash128, equal.
      const recorded = await sum(fx.pair.sourceConn, { schema: r.sourceSchema!, name: 'eligible' }, 'rowhash128');
      expect(recorded.checksum).toMatch(/^rowhash128:/);
      expect(await sum(fx.pair.prodConn, { schema: 'rh', name: 'eligible' }, algorithmOf(recorded.checksum)!)).toEqual(recorded);
      const older = await verifyCopy({ source: { conn: fx.pair.sourceConn, database: 'postgres' }, production: fx.pair.prodConn, pairs: verifyPairs(r).slice(0, 1), known: { algorithms: ['rowhash128'], source: [recorded] }, noThrow: true });
      expect(older.ok).toBe(true);
      expect(older.tables[0]!.copy).toEqual(recorded);
    } finally {
      await moveBackInSource({ conn: fx.pair.sourceConn, database: 'postgres' }, r);
      await withClient(fx.pair.prodConn, (c) => c.query('DROP SCHEMA rh CASCADE'));
    }
  }, 300_000);

  it('large values: written lz4-compressed by default, with the server\'s default on --toast-compression server; equal either way', async () => {
    const compression = (schema: string) =>
      withClient(fx.pair.prodConn, async (c) => (await c.query<{ m: string | null; n: string }>(`SELECT pg_column_compression(doc) AS m, count(*) AS n FROM ${schema}.eligible WHERE id % 100 = 0 GROUP BY 1`)).rows);
    for (const [choice, schema, method] of [[undefined, 'tc_default', 'lz4'], ['server', 'tc_server', 'pglz']] as const) {
      const r = await copyBack({ bin: fx.pair.bin, source: { conn: fx.pair.sourceConn, database: 'postgres' }, production: fx.pair.prodConn, tables: TABLES.slice(0, 1), schema, workDir: fx.pair.workDir, toastCompression: choice });
      try {
        expect(r.checksums.copy).toEqual(r.checksums.source);
        // the 30 jsonb documents of 6.4 kB, all compressed, all with one method
        expect(await compression(schema)).toEqual([{ m: method, n: '30' }]);
        // what merge does with them: INSERT … SELECT into a table of the server's default keeps them as they are
        await withClient(fx.pair.prodConn, (c) => c.query(`CREATE SCHEMA ${schema}_live; CREATE TABLE ${schema}_live.eligible (LIKE ${schema}.eligible); INSERT INTO ${schema}_live.eligible SELECT * FROM ${schema}.eligible`));
        expect(await compression(`${schema}_live`)).toEqual([{ m: method, n: '30' }]);
        await withClient(fx.pair.prodConn, (c) => c.query(`DROP SCHEMA ${schema}_live CASCADE`));
      } finally {
        await moveBackInSource({ conn: fx.pair.sourceConn, database: 'postgres' }, r);
        await withClient(fx.pair.prodConn, (c) => c.query(`DROP SCHEMA ${schema} CASCADE`));
      }
    }
    // the server's default is left as it was
    expect(await withClient(fx.pair.prodConn, async (c) => (await c.query('SHOW default_toast_compression')).rows[0].default_toast_compression)).toBe('pglz');
  });

  it('an eligible table: equal across servers when the rows are, different when one row differs (colhash64, rowhash64 and rowhash128)', async () => {
    const r = await copyBack({ bin: fx.pair.bin, source: { conn: fx.pair.sourceConn, database: 'postgres' }, production: fx.pair.prodConn, tables: parseTableList('eligible'), schema: 'rh2', workDir: fx.pair.workDir });
    const copy = { schema: 'rh2', name: 'eligible' };
    const source = await sum(fx.pair.sourceConn, { schema: r.sourceSchema!, name: 'eligible' }, 'rowhash64');
    const source128 = await sum(fx.pair.sourceConn, { schema: r.sourceSchema!, name: 'eligible' }, 'rowhash128');
    const sourceCol = await sum(fx.pair.sourceConn, { schema: r.sourceSchema!, name: 'eligible' }, 'colhash64');
    try {
      expect(sourceCol.checksum).toMatch(/^colhash64:/);
      expect(await sum(fx.pair.prodConn, copy, 'colhash64')).toEqual(sourceCol);
      expect(await sum(fx.pair.prodConn, copy, 'rowhash64')).toEqual(source);
      expect(await sum(fx.pair.prodConn, copy, 'rowhash128')).toEqual(source128);
      // Each change in a transaction on production that is rolled back: the checksum of the changed table, both yardsticks.
      const changed = async (sql: string) =>
        withClient(fx.pair.prodConn, async (c: pg.Client) => {
          await c.query('BEGIN');
          try {
            const n = (await c.query(sql)).rowCount;
            expect(n, sql).toBeGreaterThan(0);
            const rowhash = await tableChecksum(c, copy, { inTransaction: true, algorithm: 'rowhash64' });
            const rowhash128 = await tableChecksum(c, copy, { inTransaction: true, algorithm: 'rowhash128' });
            const colhash = await tableChecksum(c, copy, { inTransaction: true, algorithm: 'colhash64' });
            // the bare sum of the row hashes modulo 2⁶⁴: what a checksum without the mix would see
            const bare = (await c.query<{ s: string }>(`SELECT mod(mod(sum(hash_record_extended(r.*, 0)), 18446744073709551616) + 18446744073709551616, 18446744073709551616)::text AS s FROM rh2.eligible AS r`)).rows[0]!.s;
            return { rowhash, rowhash128, colhash, bare, text: await tableChecksum(c, copy, { inTransaction: true, algorithm: 'hash128' }) };
          } finally {
            await c.query('ROLLBACK');
          }
        });
      // Both by-value yardsticks see the change.
      const differs = async (sql: string) => {
        const x = await changed(sql);
        expect(x.rowhash.checksum, sql).not.toBe(source.checksum);
        expect(x.rowhash128.checksum, sql).not.toBe(source128.checksum);
        expect(x.colhash.checksum, sql).not.toBe(sourceCol.checksum);
        return x;
      };
      // one byte in a (TOASTed) jsonb
      await differs(`UPDATE rh2.eligible SET doc = jsonb_set(doc, '{big}', to_jsonb(overlay(doc->>'big' placing 'X' from 17 for 1))) WHERE id = 100`);
      await differs(`UPDATE rh2.eligible SET doc = jsonb_set(doc, '{v}', '"y7"') WHERE id = 7`);
      // NULL vs empty string
      await differs(`UPDATE rh2.eligible SET name = '' WHERE id = 10`);
      // Values swapped between two rows: each column holds the same multiset of values, the rows differ. The bare
      // sum of hash_record_extended does not see it (column hashes combine linearly: 31·h + column); the mix does.
      const unchanged = await changed(`UPDATE rh2.eligible SET id = id WHERE id = 1`);
      for (const swap of ['amount', 'name', 'at']) {
        const x = await differs(`UPDATE rh2.eligible e SET ${swap} = o.${swap} FROM rh2.eligible o WHERE (e.id, o.id) IN ((1, 2), (2, 1))`);
        expect(x.rowhash.rows).toBe(source.rows);
        expect(x.colhash.rows).toBe(source.rows);
        expect(x.bare, swap).toBe(unchanged.bare);
      }
      // a field inside a composite, a timestamp one microsecond off, a boolean
      await differs(`UPDATE rh2.eligible SET p.currency = 'EUx' WHERE id = 5`);
      await differs(`UPDATE rh2.eligible SET at = at + interval '1 microsecond' WHERE id = 3`);
      await differs(`UPDATE rh2.eligible SET flag = NOT flag WHERE id = 3`);
      // timestamptz through its conversion: infinities hash (no error), and apart from NULL and from each other
      const inf = await differs(`UPDATE rh2.eligible SET at = 'infinity' WHERE id = 4`);
      expect((await differs(`UPDATE rh2.eligible SET at = '-infinity' WHERE id = 4`)).colhash.checksum).not.toBe(inf.colhash.checksum);
      expect((await differs(`UPDATE rh2.eligible SET at = NULL, flag = NULL WHERE id = 4`)).colhash.checksum).not.toBe(inf.colhash.checksum);
      // a NOT NULL declared on one side only (its hash skips the NULL test) changes no hash
      await withClient(fx.pair.prodConn, async (c) => {
        await c.query('BEGIN');
        try {
          await c.query('ALTER TABLE rh2.eligible ALTER u SET NOT NULL, ALTER at SET NOT NULL, ALTER flag SET NOT NULL');
          expect(checksumSql(copy, 'colhash64', [{ name: 'at', typeOid: 1184, notNull: true }])).not.toContain('coalesce(timestamp');
          expect(await tableChecksum(c, copy, { inTransaction: true, algorithm: 'colhash64' })).toEqual(sourceCol);
        } finally {
          await c.query('ROLLBACK');
        }
      });
      // Duplicates count: a row deleted and another duplicated (same count)
      await differs(`WITH gone AS (DELETE FROM rh2.eligible WHERE id = 11 RETURNING id) INSERT INTO rh2.eligible SELECT 100000, name, amount, n, doc, at, q, p, flag, u FROM rh2.eligible WHERE id = 12 AND EXISTS (SELECT FROM gone)`);
      // What the by-value yardsticks do not claim (README): numeric scale, equal under numeric's own `=`, hashes alike; the text yardstick sees it.
      const scale = await changed(`UPDATE rh2.eligible SET n = 1.5 WHERE id = 1`);
      expect(scale.rowhash.checksum).toBe(source.checksum);
      expect(scale.rowhash128.checksum).toBe(source128.checksum);
      expect(scale.colhash.checksum).toBe(sourceCol.checksum);
      // Two columns of one type holding each other's values (a column mix-up): each column has its own seed.
      await withClient(fx.pair.prodConn, async (c) => {
        await c.query('BEGIN');
        try {
          await c.query('CREATE TABLE rh2.two (a text, b text); INSERT INTO rh2.two VALUES (\'x\', \'y\')');
          const ab = await tableChecksum(c, { schema: 'rh2', name: 'two' }, { inTransaction: true, algorithm: 'colhash64' });
          await c.query('UPDATE rh2.two SET a = b, b = a');
          expect((await tableChecksum(c, { schema: 'rh2', name: 'two' }, { inTransaction: true, algorithm: 'colhash64' })).checksum).not.toBe(ab.checksum);
          // a NULL is not an empty value, nor a NULL in the other column
          await c.query("UPDATE rh2.two SET a = NULL, b = 'x'");
          const nullA = await tableChecksum(c, { schema: 'rh2', name: 'two' }, { inTransaction: true, algorithm: 'colhash64' });
          await c.query("UPDATE rh2.two SET a = 'x', b = NULL");
          expect((await tableChecksum(c, { schema: 'rh2', name: 'two' }, { inTransaction: true, algorithm: 'colhash64' })).checksum).not.toBe(nullA.checksum);
          await c.query("UPDATE rh2.two SET a = '', b = NULL");
          expect((await tableChecksum(c, { schema: 'rh2', name: 'two' }, { inTransaction: true, algorithm: 'colhash64' })).checksum).not.toBe(nullA.checksum);
        } finally {
          await c.query('ROLLBACK');
        }
      });
      expect(scale.text.checksum).not.toBe((await sum(fx.pair.prodConn, copy, 'hash128')).checksum);
    } finally {
      await moveBackInSource({ conn: fx.pair.sourceConn, database: 'postgres' }, r);
      await withClient(fx.pair.prodConn, (c) => c.query('DROP SCHEMA rh2 CASCADE'));
    }
  }, 300_000);
  it('rowhash64 and colhash64 on one server: each row hashed once, colhash64 without the whole row (EXPLAIN VERBOSE), duplicates count, a column named r is not the row', async () => {
    await withClient(fx.pair.prodConn, async (c) => {
      await c.query('BEGIN');
      try {
        await c.query(`CREATE TABLE public.dups (a int, r text); INSERT INTO public.dups VALUES (1, 'x'), (1, 'x'), (2, 'y')`);
        const t = { schema: 'public', name: 'dups' };
        const all = async () => {
          const out: Record<string, TableChecksum> = {};
          for (const a of ['colhash64', 'rowhash64', 'rowhash128', 'hash128', 'md5sum'] as const) out[a] = await tableChecksum(c, t, { inTransaction: true, algorithm: a });
          return out;
        };
        // The plan: the scan under the sums outputs only the row hash, so the sums cannot build or hash the row again.
        const plan = (await c.query<{ 'QUERY PLAN': any[] }>(`EXPLAIN (VERBOSE, FORMAT JSON) ${checksumSql(t, 'rowhash64')}`)).rows[0]!['QUERY PLAN'][0].Plan;
        expect(scanOutputs(plan)).toEqual([[`(hash_record_extended(r.*, '0'::bigint))::text`]]);
        // rowhash128 for contrast: its scan hands the whole row up, which is built and hashed for each of the two sums
        const plan128 = (await c.query<{ 'QUERY PLAN': any[] }>(`EXPLAIN (VERBOSE, FORMAT JSON) ${checksumSql(t, 'rowhash128')}`)).rows[0]!['QUERY PLAN'][0].Plan;
        expect(scanOutputs(plan128)).toEqual([['r.*']]);
        // colhash64: the scan outputs the XOR of the column hashes, the columns by name (r."r" is the column)
        const planCol = (await c.query<{ 'QUERY PLAN': any[] }>(`EXPLAIN (VERBOSE, FORMAT JSON) ${checksumSql(t, 'colhash64', [{ name: 'a', typeOid: 23 }, { name: 'r', typeOid: 25 }])}`)).rows[0]!['QUERY PLAN'][0].Plan;
        expect(scanOutputs(planCol)).toEqual([["(COALESCE(hashint4extended(r.a, '1'::bigint), '1'::bigint) # COALESCE(hashtextextended(r.r, '2'::bigint), '2'::bigint))"]]);
        const before = await all();
        // {1x, 1x, 2y} and {1x, 2y, 2y}: the same count and the same distinct rows, not the same table
        await c.query(`DELETE FROM public.dups WHERE ctid = (SELECT min(ctid) FROM public.dups WHERE a = 1); INSERT INTO public.dups VALUES (2, 'y')`);
        const moved = await all();
        for (const a of Object.keys(before)) {
          expect(moved[a]!.rows, a).toBe(3);
          expect(moved[a]!.checksum, a).not.toBe(before[a]!.checksum);
        }
        // The column named r holds the same values after this; only the other column changed: every algorithm sees it.
        await c.query(`UPDATE public.dups SET a = a + 10`);
        const renumbered = await all();
        for (const a of Object.keys(before)) expect(renumbered[a]!.checksum, a).not.toBe(moved[a]!.checksum);
      } finally {
        await c.query('ROLLBACK');
      }
    });
  }, 120_000);
});
