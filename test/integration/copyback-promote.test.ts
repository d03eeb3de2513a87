import type pg from 'pg';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { connect, withClient } from '../../src/postgres/connect.js';
import { parseTableList } from '../../src/postgres/identifiers.js';
import { tableChecksum } from '../../src/recovery/checksum.js';
import { copyBack } from '../../src/recovery/copy-back.js';
import { promoteMerge } from '../../src/recovery/promote-merge.js';
import { promoteReplace } from '../../src/recovery/promote-replace.js';
import { IncidentLog } from '../../src/recovery/incident-log.js';
import { copyBackVerifyPromote } from '../../src/recovery/copy-verify-promote.js';
import { toConninfo } from '../../src/postgres/conninfo.js';
import { undrop } from '../cli.js';
import { type Pair, PRODUCTION_AFTER_INCIDENT_SQL, startPair } from './copyback-fixture.js';

const pairs: Pair[] = [];
afterAll(async () => {
  for (const p of pairs) await p.destroy();
  await runAllCleanups();
});

const TABLES = parseTableList('customers, orders, "Sales"."Order Items", "we""ird;name"');
const PROD_EXTRA = `CREATE TABLE invoices (id int PRIMARY KEY, order_id bigint REFERENCES orders(id)); INSERT INTO invoices VALUES (1, 2);`;

async function pairWithCopy() {
  const pair = await startPair({ productionData: PRODUCTION_AFTER_INCIDENT_SQL + PROD_EXTRA });
  pairs.push(pair);
  const src = { conn: pair.sourceConn, database: 'postgres' };
  const before = await withClient(pair.sourceConn, async (c) => {
    const out = [];
    for (const t of TABLES) out.push(await tableChecksum(c, t));
    return out;
  });
  const copied = await copyBack({ bin: pair.bin, source: src, production: pair.prodConn, tables: TABLES, schema: 'undrop_x', workDir: pair.workDir });
  return { pair, copied, before };
}

describe('promote (real PostgreSQL)', () => {
  it('replace: live tables renamed aside with their rows, recovered ones moved in, inserts continue, incoming FKs reported', async () => {
    const { pair, copied, before } = await pairWithCopy();
    const now = new Date('2026-11-25T03:00:00Z');
    const r = await promoteReplace({ production: pair.prodConn, tables: copied.tables, now });
    expect(r.tables.map((t) => [t.name, t.liveRenamedToName, t.liveRows, t.rows])).toEqual([
      ['public.customers', 'public.customers_before_undrop_20261125_030000', 2, 1000],
      ['public.orders', 'public.orders_before_undrop_20261125_030000', 3, 5000],
      ['"Sales"."Order Items"', '"Sales"."Order Items_before_undrop_20261125_030000"', 0, 2000],
      ['public."we""ird;name"', 'public."we""ird;name_before_undrop_20261125_030000"', 0, 3],
    ]);
    expect(r.foreignKeys).toEqual([
      expect.objectContaining({ constraint: 'invoices_order_id_fkey', table: 'public.invoices', references: 'public.orders', action: 'reported' }),
    ]);
    await withClient(pair.prodConn, async (c) => {
      for (const [i, t] of TABLES.entries()) expect(await tableChecksum(c, t)).toEqual(before[i]);
      const aside = await c.query(`SELECT payload FROM public.orders_before_undrop_20261125_030000 ORDER BY id`);
      expect(aside.rows.map((x) => x.payload)).toEqual(['post-incident order 1', 'post-incident order 2', 'post-incident order 3']);
      // sequence-backed inserts work on the promoted tables
      expect((await c.query(`INSERT INTO orders (customer_id, total) VALUES (1, 1) RETURNING id`)).rows[0].id).toBe('5001');
      expect((await c.query(`INSERT INTO customers (name) VALUES ('after replace') RETURNING id`)).rows[0].id).toBe(1001);
      expect((await c.query(`INSERT INTO "Sales"."Order Items" ("Qty") VALUES (1) RETURNING id`)).rows[0].id).toBe(2001);
      // and on the renamed-aside one too (its own sequence, renamed with it)
      expect((await c.query(`INSERT INTO customers_before_undrop_20261125_030000 (name) VALUES ('x') RETURNING id`)).rows[0].id).toBe(3);
      const idx = await c.query(`SELECT indexrelid::regclass::text AS i FROM pg_index WHERE indrelid = 'public.orders_before_undrop_20261125_030000'::regclass ORDER BY 1`);
      expect(idx.rows.map((x) => x.i)).toEqual(['orders_created_idx_before_undrop_20261125_030000', 'orders_pkey_before_undrop_20261125_030000']);
      // the emptied side schema is gone
      expect((await c.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'undrop_x'`)).rows[0].n).toBe(0);
    });
  });

  it('replace with recreateForeignKeys points other live tables\' FKs at the recovered table', async () => {
    const { pair, copied } = await pairWithCopy();
    const r = await promoteReplace({ production: pair.prodConn, tables: copied.tables.filter((t) => t.original.name === 'orders' || t.original.name === 'customers'), recreateForeignKeys: true });
    expect(r.foreignKeys.map((f) => [f.constraint, f.table, f.action])).toEqual([
      ['Order Items_order_id_fkey', '"Sales"."Order Items"', 'recreated'],
      ['invoices_order_id_fkey', 'public.invoices', 'recreated'],
    ]);
    const fk = await pair.production.query(`SELECT confrelid::regclass::text AS r, convalidated AS v FROM pg_constraint WHERE conname = 'invoices_order_id_fkey'`);
    expect(fk.rows[0]).toEqual({ r: 'orders', v: true });
  });

  // The fixture's production recreated the tables: customers 1-2 and orders 1-3 are post-incident rows that reuse lost rows' keys.
  const liveRows = async (c: pg.Client, t: string) => (await c.query(`SELECT to_jsonb(x) AS r FROM ${t} x ORDER BY id`)).rows.map((r) => r.r);
  const conflictKeys = async (c: pg.Client, t: string) => (await c.query(`SELECT id::int AS id, kind, resolution, live_new_key FROM undrop_x.${t}__conflicts ORDER BY id`)).rows;

  it('merge (default --on-conflict fail): refuses with MERGE_CONFLICTS, keeps exactly the colliding pairs in <table>__conflicts, changes nothing live', async () => {
    const { pair, copied } = await pairWithCopy();
    const before = await withClient(pair.prodConn, async (c) => ({ customers: await liveRows(c, 'customers'), orders: await liveRows(c, 'orders') }));
    const err = await promoteMerge({ production: pair.prodConn, tables: copied.tables }).catch((e) => e);
    expect(err.code).toBe('MERGE_CONFLICTS');
    expect(err.exitCode).toBe(1);
    expect(err.message).toContain('public.customers: 2 recovered row(s) whose key a live row now holds with other content');
    expect(err.message).toContain('undrop_x.customers__conflicts');
    expect(err.hint).toMatch(/--on-conflict rekey-live.*--on-conflict keep-live/);
    expect(err.merge.tables.map((t: any) => [t.name, t.conflicts, t.skipped, t.inserted, t.conflictsTable])).toEqual([
      ['public.customers', 2, 0, 0, 'undrop_x.customers__conflicts'],
      ['public.orders', 3, 0, 0, 'undrop_x.orders__conflicts'],
      ['"Sales"."Order Items"', 0, 0, 0, null],
      ['public."we""ird;name"', 0, 0, 0, null],
    ]);
    expect(err.merge.tables[0].sample[0]).toMatchObject({ key: [1], recovered: { name: 'customer 1' }, live: { name: 'post-incident A' } });
    await withClient(pair.prodConn, async (c) => {
      expect(await liveRows(c, 'customers')).toEqual(before.customers);
      expect(await liveRows(c, 'orders')).toEqual(before.orders);
      expect(await conflictKeys(c, 'customers')).toEqual([1, 2].map((id) => ({ id, kind: 'key', resolution: 'unresolved', live_new_key: null })));
      expect(await conflictKeys(c, 'orders')).toEqual([1, 2, 3].map((id) => ({ id, kind: 'key', resolution: 'unresolved', live_new_key: null })));
      const pairRow = (await c.query(`SELECT recovered_row->>'payload' AS r, live_row->>'payload' AS l FROM undrop_x.orders__conflicts WHERE id = 2`)).rows[0];
      expect(pairRow).toEqual({ r: 'small 2', l: 'post-incident order 2' });
      // no conflicts table for tables without collisions
      expect((await c.query(`SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'undrop_x'::regnamespace AND relname LIKE '%__conflicts'`)).rows[0].n).toBe(2);
    });
  });

  it('merge --on-conflict keep-live: the live rows win, the recovered ones stay in the conflicts table; a second merge inserts nothing', async () => {
    const { pair, copied } = await pairWithCopy();
    const r = await promoteMerge({ production: pair.prodConn, tables: copied.tables, onConflict: 'keep-live' });
    expect(r.tables.map((t) => [t.name, t.recoveredRows, t.inserted, t.skipped, t.conflicts, t.resolution])).toEqual([
      ['public.customers', 1000, 998, 0, 2, 'kept-live'],
      ['public.orders', 5000, 4997, 0, 3, 'kept-live'],
      ['"Sales"."Order Items"', 2000, 2000, 0, 0, null],
      ['public."we""ird;name"', 3, 3, 0, 0, null],
    ]);
    expect(r.tables[1]!.sequences).toEqual([{ sequence: 'public.orders_id_seq', column: 'id', from: '3', to: '5000' }]);
    await withClient(pair.prodConn, async (c) => {
      const post = await c.query(`SELECT id, payload FROM orders WHERE id <= 4 ORDER BY id`);
      expect(post.rows.map((x) => x.payload)).toEqual(['post-incident order 1', 'post-incident order 2', 'post-incident order 3', 'small 4']);
      expect(await conflictKeys(c, 'orders')).toEqual([1, 2, 3].map((id) => ({ id, kind: 'key', resolution: 'kept-live', live_new_key: null })));
      expect((await c.query(`INSERT INTO orders (customer_id, total) VALUES (1, 1) RETURNING id`)).rows[0].id).toBe('5001');
      expect((await c.query(`INSERT INTO customers (name) VALUES ('after merge') RETURNING id`)).rows[0].id).toBe(1001);
    });
    const again = await promoteMerge({ production: pair.prodConn, tables: copied.tables, onConflict: 'keep-live' });
    expect(again.tables.map((t) => t.inserted)).toEqual([0, 0, 0, 0]);
  });

  it('merge --on-conflict rekey-live: refused, naming the referencing tables, when their foreign keys lack ON UPDATE CASCADE', async () => {
    const { pair, copied } = await pairWithCopy();
    const tables = copied.tables.filter((t) => ['customers', 'orders'].includes(t.original.name));
    const err = await promoteMerge({ production: pair.prodConn, tables, onConflict: 'rekey-live' }).catch((e) => e);
    expect(err.code).toBe('MERGE_REKEY_REFERENCED');
    expect(err.details.join('\n')).toMatch(/^orders \(orders_customer_id_fkey\): 3 row\(s\)/m);
    expect((await pair.production.query(`SELECT count(*)::int AS n FROM orders`)).rows[0].n).toBe(3);
  });

  it('merge --on-conflict rekey-live: post-incident rows get new keys (children follow by ON UPDATE CASCADE), every recovered row keeps its key, sequences past both; a second merge inserts nothing', async () => {
    const { pair, copied, before } = await pairWithCopy();
    await pair.production.query(`
      ALTER TABLE orders DROP CONSTRAINT orders_customer_id_fkey, ADD FOREIGN KEY (customer_id) REFERENCES customers(id) ON UPDATE CASCADE;
      ALTER TABLE invoices DROP CONSTRAINT invoices_order_id_fkey, ADD FOREIGN KEY (order_id) REFERENCES orders(id) ON UPDATE CASCADE;`);
    const tables = copied.tables.filter((t) => ['customers', 'orders'].includes(t.original.name));
    const r = await promoteMerge({ production: pair.prodConn, tables, onConflict: 'rekey-live' });
    expect(r.tables.map((t) => [t.name, t.inserted, t.conflicts, t.resolution, t.rekey?.rows, t.rekey?.newKeys])).toEqual([
      ['public.customers', 1000, 2, 'rekeyed-live', 2, { first: '1001', last: '1002' }],
      ['public.orders', 5000, 3, 'rekeyed-live', 3, { first: '5001', last: '5003' }],
    ]);
    expect(r.tables[0]!.rekey!.followed).toEqual([{ table: 'orders', constraint: 'orders_customer_id_fkey', rows: 3 }]);
    expect(r.tables[1]!.rekey!.followed).toEqual([{ table: 'invoices', constraint: 'invoices_order_id_fkey', rows: 1 }]);
    await withClient(pair.prodConn, async (c) => {
      // every recovered row under its original key, unchanged
      for (const [i, t] of TABLES.entries()) {
        if (!['customers', 'orders'].includes(t.name)) continue;
        const sub = await c.query(`SELECT count(*)::int AS n FROM undrop_x.${t.name} r WHERE NOT EXISTS (SELECT 1 FROM public.${t.name} l WHERE l.id = r.id AND l::text = r::text)`);
        expect(sub.rows[0].n, t.name).toBe(0);
        expect(before[i]!.rows).toBeGreaterThan(0);
      }
      // every post-incident row, under its new key, pointing at its (rekeyed) parent
      const post = await c.query(`SELECT o.id::int AS id, o.payload, cu.name FROM orders o JOIN customers cu ON cu.id = o.customer_id WHERE o.payload LIKE 'post-incident%' ORDER BY o.payload`);
      expect(post.rows.map((x) => [x.payload, x.name])).toEqual([
        ['post-incident order 1', 'post-incident A'],
        ['post-incident order 2', 'post-incident B'],
        ['post-incident order 3', 'post-incident A'],
      ]);
      expect(post.rows.every((x) => x.id > 5000)).toBe(true);
      expect((await c.query(`SELECT id::int AS id FROM customers WHERE name LIKE 'post-incident%' ORDER BY name`)).rows.map((x) => x.id)).toEqual([1001, 1002]);
      const inv = await c.query(`SELECT o.payload FROM invoices i JOIN orders o ON o.id = i.order_id`);
      expect(inv.rows.map((x) => x.payload)).toEqual(['post-incident order 2']);
      expect((await conflictKeys(c, 'customers')).map((x) => [x.id, x.resolution, x.live_new_key])).toEqual([[1, 'rekeyed-live', expect.any(String)], [2, 'rekeyed-live', expect.any(String)]]);
      // sequences past both
      expect((await c.query(`INSERT INTO orders (customer_id, total) VALUES (1, 1) RETURNING id`)).rows[0].id).toBe('5004');
      expect((await c.query(`INSERT INTO customers (name) VALUES ('after rekey') RETURNING id`)).rows[0].id).toBe(1003);
      expect((await c.query(`SELECT count(*)::int AS n FROM orders`)).rows[0].n).toBe(5004);
    });
    const again = await promoteMerge({ production: pair.prodConn, tables });
    expect(again.tables.map((t) => [t.inserted, t.conflicts])).toEqual([[0, 0], [0, 0]]);
  });

  it('merge: a recovered row kept out by another unique constraint is a collision too (kind other-unique): refused by default, left out and recorded with keep-live', async () => {
    // a post-incident customer under a free key took the name of lost customer 5
    const pair = await startPair({ productionData: `INSERT INTO customers (id, name, note) VALUES (2001, 'customer 5', 'new');` });
    pairs.push(pair);
    const copied = await copyBack({ bin: pair.bin, source: { conn: pair.sourceConn, database: 'postgres' }, production: pair.prodConn, tables: parseTableList('customers'), schema: 'undrop_x', workDir: pair.workDir });
    const err = await promoteMerge({ production: pair.prodConn, tables: copied.tables }).catch((e) => e);
    expect(err.code).toBe('MERGE_CONFLICTS');
    expect(err.message).toContain('public.customers: 1 kept out by another unique constraint (see undrop_x.customers__conflicts)');
    expect((await pair.production.query('SELECT count(*)::int AS n FROM customers')).rows[0].n).toBe(1);
    const rows = async () => (await pair.production.query(`SELECT id, kind, resolution, recovered_row->>'name' AS name, live_row FROM undrop_x.customers__conflicts`)).rows;
    expect(await rows()).toEqual([{ id: 5, kind: 'other-unique', resolution: 'unresolved', name: 'customer 5', live_row: null }]);
    const kept = await promoteMerge({ production: pair.prodConn, tables: copied.tables, onConflict: 'keep-live' });
    expect(kept.tables.map((t) => [t.inserted, t.conflicts, t.otherUnique, t.resolution])).toEqual([[999, 0, 1, 'kept-live']]);
    expect(await rows()).toEqual([{ id: 5, kind: 'other-unique', resolution: 'kept-live', name: 'customer 5', live_row: null }]);
    const rekey = await promoteMerge({ production: pair.prodConn, tables: copied.tables, onConflict: 'rekey-live' }).catch((e) => e);
    expect(rekey.code).toBe('MERGE_CONFLICTS');
    expect(rekey.hint).toContain('kind = other-unique');
  });

  it('merge refuses a live table without a primary key, and a locked live table gives a clear error with nothing changed', async () => {
    const { pair, copied } = await pairWithCopy();
    await pair.production.query(`ALTER TABLE "we""ird;name" DROP CONSTRAINT "we""ird;name_pkey"`);
    const noPk = await promoteMerge({ production: pair.prodConn, tables: copied.tables }).catch((e) => e);
    expect(noPk.code).toBe('MERGE_NEEDS_PRIMARY_KEY');
    expect(noPk.message).toContain('public."we""ird;name" has no primary key');

    const holder = await connect(pair.prodConn, { applicationName: 'busy app' });
    try {
      await holder.query(`BEGIN; LOCK TABLE orders IN ROW EXCLUSIVE MODE`);
      const tables = copied.tables.filter((t) => t.original.name !== 'we"ird;name');
      for (const run of [() => promoteReplace({ production: pair.prodConn, tables, lockTimeoutMs: 300 }), () => promoteMerge({ production: pair.prodConn, tables, lockTimeoutMs: 300 })]) {
        const err = await run().catch((e) => e);
        expect(err.code).toBe('LIVE_TABLE_BUSY');
        expect(err.message).toBe('public.orders is locked by another session; gave up after 0.3 s. Nothing was changed.');
        expect(err.details.join('\n')).toMatch(/application busy app/);
      }
      await holder.query('ROLLBACK');
    } finally {
      await holder.end();
    }
    await withClient(pair.prodConn, async (c) => {
      expect((await c.query(`SELECT count(*)::int AS n FROM public.orders`)).rows[0].n).toBe(3);
      expect((await c.query(`SELECT count(*)::int AS n FROM public.customers`)).rows[0].n).toBe(2);
      expect((await c.query(`SELECT count(*)::int AS n FROM undrop_x.orders`)).rows[0].n).toBe(5000);
      expect((await c.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE '%before_undrop%'`)).rows[0].n).toBe(0);
    });
  });
});

describe('undrop promote through the CLI (real PostgreSQL)', () => {
  it('merge with collisions: exit 1 with the JSON document (conflicts, sample, error), nothing live changed; then --on-conflict keep-live: exit 0', async () => {
    const pair = await startPair({ productionData: PRODUCTION_AFTER_INCIDENT_SQL + PROD_EXTRA });
    pairs.push(pair);
    const log = IncidentLog.open({ workDir: pair.workDir });
    const tables = parseTableList('customers, orders');
    await copyBackVerifyPromote({
      bin: pair.bin,
      log,
      sourceName: 'fixture',
      materialized: { conn: pair.sourceConn, database: 'postgres', recoveryPoint: { time: null, lsn: null, basis: 'test' }, tables: [], notes: [] },
      production: pair.prodConn,
      tables,
      mode: 'side-schema',
      schema: 'undrop_cli',
      workDir: pair.workDir,
    });
    log.finish({ ok: true });
    const dir = mkdtempSync(join(pair.workDir, 'cfg-'));
    const cfg = join(dir, 'undrop.yaml');
    writeFileSync(cfg, `production:\n  dsn: ${JSON.stringify(toConninfo(pair.prodConn))}\nsources: []\nwork_dir: ${JSON.stringify(join(dir, 'work'))}\n`);
    const before = await withClient(pair.prodConn, async (c) => [await tableChecksum(c, { name: 'customers' }), await tableChecksum(c, { name: 'orders' })]);

    const r = await undrop(['-c', cfg, '--json', 'promote', '--schema', 'undrop_cli', '--mode', 'merge', '--yes']);
    expect(r.exitCode, r.stderr).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.error).toMatchObject({ code: 'MERGE_CONFLICTS', exitCode: 1 });
    expect(doc).toMatchObject({ schema: 'undrop_cli', mode: 'merge', source: 'fixture', promoted: { mode: 'merge', onConflict: 'fail', committed: false } });
    expect(doc.promoted.tables.map((t: any) => [t.name, t.conflicts, t.conflictsTable, t.sample.length])).toEqual([
      ['public.customers', 2, 'undrop_cli.customers__conflicts', 2],
      ['public.orders', 3, 'undrop_cli.orders__conflicts', 3],
    ]);
    expect(doc.nextSteps.join('\n')).toContain('undrop promote --schema undrop_cli --mode merge --on-conflict rekey-live|keep-live');
    expect(await withClient(pair.prodConn, async (c) => [await tableChecksum(c, { name: 'customers' }), await tableChecksum(c, { name: 'orders' })])).toEqual(before);

    const k = await undrop(['-c', cfg, 'promote', '--schema', 'undrop_cli', '--mode', 'merge', '--on-conflict', 'keep-live', '--yes']);
    expect(k.exitCode, k.stderr).toBe(0);
    expect(k.stdout).toContain('merged into public.orders: 4997 rows inserted, 0 already there (equal); 3 recovered rows LEFT OUT because live rows written since the incident hold their keys (--on-conflict keep-live), kept in undrop_cli.orders__conflicts');
    expect(k.stderr).toContain('Collisions: keep the live rows, leave those recovered rows out (--on-conflict keep-live). yes (--yes)');
    expect((await pair.production.query('SELECT count(*)::int AS n FROM orders')).rows[0].n).toBe(5000);
  });
});
