import { describe, expect, it } from 'vitest';
import { withClient } from '../../src/postgres/connect.js';
import { parseTableList } from '../../src/postgres/identifiers.js';
import { tableChecksum, tableChecksums } from '../../src/recovery/checksum.js';
import { copyBack, moveBackInSource } from '../../src/recovery/copy-back.js';
import { usePair } from './copyback-fixture.js';

const fx = usePair();

const TABLES = 'customers, orders, "Sales"."Order Items", "we""ird;name"';

describe('copy back into a side schema (real PostgreSQL)', () => {
  it('copies tables, keys, indexes, identity/serial, FKs, comments and TOASTed rows; checksums match', async () => {
    const tables = parseTableList(TABLES);
    const before = await withClient(fx.pair.sourceConn, (c) => tableChecksums(c, tables));
    const rowBefore = await withClient(fx.pair.sourceConn, (c) => tableChecksums(c, tables, { algorithm: 'colhash64' }));
    const r = await copyBack({ bin: fx.pair.bin, source: { conn: fx.pair.sourceConn, database: 'postgres' }, production: fx.pair.prodConn, tables, schema: 'recovered', workDir: fx.pair.workDir });
    expect(r.schema).toBe('recovered');
    expect(r.tables.map((t) => [t.name, t.recoveredAsName, t.rows])).toEqual([
      ['public.customers', 'recovered.customers', 1000],
      ['public.orders', 'recovered.orders', 5000],
      ['"Sales"."Order Items"', 'recovered."Order Items"', 2000],
      ['public."we""ird;name"', 'recovered."we""ird;name"', 3],
    ]);
    // verification rode along: both sides' sums, taken during the copy, equal the source's before it
    // (every column type here hashes by value: colhash64 for all four)
    expect(r.checksums.algorithms).toEqual(['colhash64', 'colhash64', 'colhash64', 'colhash64']);
    expect(r.checksums.source).toEqual(rowBefore);
    expect(r.checksums.copy).toEqual(rowBefore);
    // the fallback yardstick agrees too
    const md5Before = await withClient(fx.pair.sourceConn, (c) => tableChecksums(c, r.tables.map((t) => ({ schema: r.sourceSchema, name: t.original.name })), { algorithm: 'md5sum' }));
    const md5After = await withClient(fx.pair.prodConn, (c) => tableChecksums(c, r.tables.map((t) => t.recoveredAs), { algorithm: 'md5sum' }));
    expect(md5After).toEqual(md5Before);
    expect(md5After[0]!.checksum).toMatch(/^md5sum:/);
    // the FK to regions (not recovered) is reported, not created
    expect(r.foreignKeysLeftOut.map((f) => [f.name, f.references.name])).toEqual([['customers_region_id_fkey', 'regions']]);

    try {
    await withClient(fx.pair.prodConn, async (c) => {
      for (const [i, t] of r.tables.entries()) {
        const got = await tableChecksum(c, t.recoveredAs);
        expect(got).toEqual(before[i]);
      }
      // TOAST really used
      const toast = await c.query(`SELECT count(*)::int AS n FROM recovered.orders WHERE length(payload) > 10000`);
      expect(toast.rows[0].n).toBe(100);
      // FKs between recovered tables point into the side schema; none to regions
      const fks = await c.query(`SELECT conrelid::regclass::text AS t, confrelid::regclass::text AS r FROM pg_constraint WHERE contype = 'f' AND connamespace = 'recovered'::regnamespace ORDER BY 1`);
      expect(fks.rows).toEqual([
        { t: 'recovered."Order Items"', r: 'recovered.orders' },
        { t: 'recovered.orders', r: 'recovered.customers' },
      ]);
      // indexes, unique and check constraints, comments
      const idx = await c.query(`SELECT indexrelid::regclass::text AS i FROM pg_index WHERE indrelid = 'recovered.orders'::regclass ORDER BY 1`);
      expect(idx.rows.map((x) => x.i)).toEqual(['recovered.orders_created_idx', 'recovered.orders_pkey']);
      const com = await c.query(`SELECT col_description('recovered.customers'::regclass, 2) AS c, obj_description('recovered.customers'::regclass, 'pg_class') AS t`);
      expect(com.rows[0]).toEqual({ c: `customer's "display" name; not unique in 2019`, t: 'people who buy' });
      // owned sequences came along with their values: serial and identity inserts continue after the last id
      const ins = await c.query(`INSERT INTO recovered.orders (customer_id, total) VALUES (1, 5) RETURNING id, total_cents`);
      expect(ins.rows[0]).toEqual({ id: '5001', total_cents: '500' });
      const ins2 = await c.query(`INSERT INTO recovered.customers (name) VALUES ('new one') RETURNING id`);
      expect(ins2.rows[0].id).toBe(1001);
      const ins3 = await c.query(`INSERT INTO recovered."Order Items" ("Qty") VALUES (1) RETURNING id`);
      expect(ins3.rows[0].id).toBe(2001);
      await expect(c.query(`INSERT INTO recovered.orders (customer_id, total) VALUES (1, -1)`)).rejects.toThrow(/check constraint/);
      await expect(c.query(`INSERT INTO recovered.customers (name) VALUES ('customer 1')`)).rejects.toThrow(/unique/);
      // the defaults use the side schema's sequences, not the live ones
      const def = await c.query(`SELECT pg_get_serial_sequence('recovered.customers', 'id') AS s`);
      expect(def.rows[0].s).toBe('recovered.customers_id_seq');
      // the live tables were not touched
      const live = await c.query(`SELECT (SELECT count(*) FROM public.orders)::int AS o, (SELECT count(*) FROM public.customers)::int AS c`);
      expect(live.rows[0]).toEqual({ o: 3, c: 2 });
    });
    } finally {
      await moveBackInSource({ conn: fx.pair.sourceConn, database: 'postgres' }, r);
    }
  });

  it('never overwrites an existing side schema (exit 2) and leaves the source as it was', async () => {
    const err = await copyBack({ bin: fx.pair.bin, source: { conn: fx.pair.sourceConn, database: 'postgres' }, production: fx.pair.prodConn, tables: parseTableList('orders'), schema: 'recovered', workDir: fx.pair.workDir }).catch((e) => e);
    expect(err.code).toBe('SIDE_SCHEMA_EXISTS');
    expect(err.exitCode).toBe(2);
    const n = await fx.pair.source.query(`SELECT count(*)::int AS n FROM public.orders`);
    expect(n.rows[0].n).toBe(5000);
  });

  it('refuses an unknown table before writing anything (exit 2)', async () => {
    const err = await copyBack({ bin: fx.pair.bin, source: { conn: fx.pair.sourceConn, database: 'postgres' }, production: fx.pair.prodConn, tables: parseTableList('orders, nosuch, "Orders"'), workDir: fx.pair.workDir }).catch((e) => e);
    expect(err.code).toBe('TABLE_NOT_IN_SOURCE');
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain('public.nosuch, public."Orders"');
    const s = await fx.pair.production.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname LIKE 'undrop_%'`);
    expect(s.rows[0].n).toBe(0);
  });

  it('uses undrop_YYYYMMDD_HHMMSS by default', async () => {
    const now = new Date('2026-11-25T02:45:12Z');
    const r = await copyBack({ bin: fx.pair.bin, source: { conn: fx.pair.sourceConn, database: 'postgres' }, production: fx.pair.prodConn, tables: parseTableList('"we""ird;name"'), workDir: fx.pair.workDir, now });
    expect(r.schema).toBe('undrop_20261125_024512');
    await moveBackInSource({ conn: fx.pair.sourceConn, database: 'postgres' }, r);
  });
});
