// The fault matrix, production: --mode replace on a live table that other
// objects point at (not foreign keys: replace handles those). A view, a rule,
// a SQL-body function, another table's row-level-security policy, a
// publication, a partition attachment and another table's trigger that names
// it would all keep pointing at the renamed post-incident table. They are
// listed before the question, and replace is refused unless --allow-dependents.
import { describe, expect, it } from 'vitest';
import { withClient } from '../../src/postgres/connect.js';
import { parseTableList } from '../../src/postgres/identifiers.js';
import { copyBack } from '../../src/recovery/copy-back.js';
import { dependentLines, replacePreview } from '../../src/recovery/live-dependents.js';
import { promoteReplace } from '../../src/recovery/promote-replace.js';
import { usePair } from './copyback-fixture.js';

const DEPENDENTS_SQL = `
CREATE VIEW open_orders AS SELECT id, total FROM orders WHERE total > 0;
CREATE TABLE order_log (id int);
CREATE RULE log_orders AS ON INSERT TO order_log DO ALSO SELECT count(*) FROM orders;
CREATE FUNCTION order_count() RETURNS bigint LANGUAGE sql BEGIN ATOMIC SELECT count(*) FROM orders; END;
CREATE TABLE notes (id int, order_id bigint);
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY notes_of_orders ON notes USING (order_id IN (SELECT id FROM orders));
CREATE PUBLICATION orders_pub FOR TABLE orders;
CREATE FUNCTION touch_orders() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE orders SET payload = payload WHERE id = NEW.order_id; RETURN NEW; END $$;
CREATE TRIGGER notes_touch AFTER INSERT ON notes FOR EACH ROW EXECUTE FUNCTION touch_orders();
`;

let liveOrders = 0;
const fx = usePair({
  setup: async (p) => {
    await p.production.query(DEPENDENTS_SQL);
    await copyBack({ bin: p.bin, source: { conn: p.sourceConn, database: 'postgres' }, production: p.prodConn, tables: parseTableList('orders, regions'), schema: 'undrop_dep', workDir: p.workDir });
    // regions becomes a partition-attached table: its attachment would stay on the renamed table
    await p.production.query(`CREATE TABLE part_parent (id int, name text) PARTITION BY LIST (id); ALTER TABLE part_parent ATTACH PARTITION regions FOR VALUES IN (1, 2, 3, 4, 5)`);
    liveOrders = (await p.production.query<{ n: number }>('SELECT count(*)::int AS n FROM orders')).rows[0]!.n;
  },
  timeoutMs: 180_000,
});

const tables = [
  { original: { schema: 'public', name: 'orders' }, recoveredAs: { schema: 'undrop_dep', name: 'orders' } },
  { original: { schema: 'public', name: 'regions' }, recoveredAs: { schema: 'undrop_dep', name: 'regions' } },
];

describe('replace with dependents other than foreign keys', () => {
  it('the preview lists every kind, by name, for the confirmation', async () => {
    const found = await replacePreview(fx.pair.prodConn, tables);
    const orders = found.find((f) => f.table === 'public.orders')!.dependents;
    expect(orders).toEqual(
      expect.arrayContaining([
        'view open_orders',
        'rule log_orders on order_log',
        'function order_count() (SQL body)',
        'row-level-security policy notes_of_orders on notes',
        'publication orders_pub',
        'trigger notes_touch on notes (its function touch_orders names the table)',
      ]),
    );
    expect(found.find((f) => f.table === 'public.regions')!.dependents).toEqual(['partition of part_parent']);
    expect(dependentLines(found)[0]).toMatch(/^public\.orders has dependents that will keep pointing at the renamed \(post-incident\) table, not the recovered one: /);
  });

  it('refused without --allow-dependents (LIVE_TABLE_DEPENDENTS, exit 1): nothing live changed', async () => {
    const err = await promoteReplace({ production: fx.pair.prodConn, tables }).catch((e) => e);
    expect(err).toMatchObject({ code: 'LIVE_TABLE_DEPENDENTS', exitCode: 1 });
    expect(err.message).toMatch(/view open_orders/);
    expect(err.message).toMatch(/Nothing live was changed/);
    expect(err.hint).toMatch(/--allow-dependents/);
    const still = await withClient(fx.pair.prodConn, async (c) => (await c.query("SELECT count(*)::int AS n FROM orders")).rows[0].n);
    expect(still).toBe(liveOrders);
    expect((await fx.pair.production.query("SELECT to_regclass('undrop_dep.orders') IS NOT NULL AS e")).rows[0].e).toBe(true);
  });

  it('with --allow-dependents: replaced; the view still reads the renamed post-incident table, as the confirmation said', async () => {
    const r = await promoteReplace({ production: fx.pair.prodConn, tables, allowDependents: true });
    const renamed = r.tables.find((t) => t.name === 'public.orders')!.liveRenamedToName!;
    expect(renamed).toMatch(/^public\.orders_before_undrop_/);
    const n = await withClient(fx.pair.prodConn, async (c) => (await c.query('SELECT count(*)::int AS n FROM orders')).rows[0].n);
    expect(n).toBe(5000);
    const def = await withClient(fx.pair.prodConn, async (c) => (await c.query("SELECT pg_get_viewdef('open_orders'::regclass) AS d")).rows[0].d);
    expect(def).toContain(renamed.replace(/^public\./, ''));
  });
});
