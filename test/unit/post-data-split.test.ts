// Each table's keys and indexes go to its own loading connection; what spans
// tables, or cannot be attributed, runs afterwards in pg_restore's order.
import { describe, expect, it } from 'vitest';
import { splitPostData } from '../../src/recovery/post-data-split.js';

const SQL = `--
-- PostgreSQL database dump
--

SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);

--
-- Name: customers customers_pkey; Type: CONSTRAINT; Schema: undrop_staging_ab; Owner: -
--

ALTER TABLE ONLY undrop_staging_ab.customers
    ADD CONSTRAINT customers_pkey PRIMARY KEY (id);


--
-- Name: Order Items Order Items_pkey; Type: CONSTRAINT; Schema: undrop_staging_ab; Owner: -
--

ALTER TABLE ONLY undrop_staging_ab."Order Items"
    ADD CONSTRAINT "Order Items_pkey" PRIMARY KEY (id);


--
-- Name: orders_customer_idx; Type: INDEX; Schema: undrop_staging_ab; Owner: -
--

CREATE INDEX orders_customer_idx ON undrop_staging_ab.orders USING btree (customer_id);


--
-- Name: INDEX orders_customer_idx; Type: COMMENT; Schema: undrop_staging_ab; Owner: -
--

COMMENT ON INDEX undrop_staging_ab.orders_customer_idx IS 'by customer';


--
-- Name: orders orders_customer_id_fkey; Type: FK CONSTRAINT; Schema: undrop_staging_ab; Owner: -
--

ALTER TABLE ONLY undrop_staging_ab.orders
    ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES undrop_staging_ab.customers(id);


--
-- PostgreSQL database dump complete
--
`;

describe('post-data split', () => {
  it('gives each table its CONSTRAINT and INDEX blocks, the rest afterwards in order', () => {
    const s = splitPostData(SQL, 'undrop_staging_ab', ['customers', 'orders', 'Order Items']);
    expect(s.header).toContain("set_config('search_path', '', false)");
    expect(s.header).not.toContain('ADD CONSTRAINT');
    expect(s.perTable.get('customers')).toContain('ADD CONSTRAINT customers_pkey PRIMARY KEY');
    expect(s.perTable.get('Order Items')).toContain('"Order Items_pkey"');
    expect(s.perTable.get('orders')).toContain('CREATE INDEX orders_customer_idx');
    expect(s.perTable.get('orders')).not.toContain('FOREIGN KEY');
    expect(s.after.indexOf('COMMENT ON INDEX')).toBeGreaterThanOrEqual(0);
    expect(s.after.indexOf('COMMENT ON INDEX')).toBeLessThan(s.after.indexOf('FOREIGN KEY'));
    // every statement lands exactly once
    const all = [s.header, ...s.perTable.values(), s.after].join('\n');
    for (const stmt of ['customers_pkey PRIMARY KEY', '"Order Items_pkey"', 'CREATE INDEX orders_customer_idx', 'COMMENT ON INDEX', 'FOREIGN KEY']) expect(all.split(stmt).length - 1).toBe(1);
  });

  it('leaves to the rest what is on another schema or table', () => {
    const s = splitPostData(SQL, 'undrop_staging_ab', ['customers']);
    expect([...s.perTable.keys()]).toEqual(['customers']);
    expect(s.after).toContain('CREATE INDEX orders_customer_idx');
    expect(splitPostData(SQL, 'other', ['customers', 'orders']).perTable.size).toBe(0);
  });
});

describe('checksum time under parallel loads', () => {
  it('counts overlapping spans once', async () => {
    const { unionMs } = await import('../../src/recovery/copy-staged.js');
    expect(unionMs([])).toBe(0);
    expect(unionMs([[0, 10], [5, 15], [20, 30]])).toBe(25);
    expect(unionMs([[20, 30], [0, 100]])).toBe(100);
  });
});
