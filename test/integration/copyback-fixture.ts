// Two real PostgreSQL instances: a "materialized source" holding the tables as
// they were before the incident, and a "production" where they were dropped
// and recreated, with a few post-incident rows (ids re-used, other content).
import { afterAll, beforeAll } from 'vitest';
import { findBinaries, type PgBinaries } from '../../src/postgres/binaries.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import type { ConnParams } from '../../src/postgres/conninfo.js';
import { TempInstance } from '../../src/postgres/instance.js';
import { testWorkDir } from '../helpers.js';

export const SCHEMA_SQL = `
CREATE SCHEMA "Sales";
CREATE TABLE regions (id int PRIMARY KEY, name text);
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL UNIQUE, note text, region_id int REFERENCES regions(id));
COMMENT ON COLUMN customers.name IS 'customer''s "display" name; not unique in 2019';
COMMENT ON TABLE customers IS 'people who buy';
CREATE TABLE orders (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id int NOT NULL REFERENCES customers(id),
  total numeric(12,2) CHECK (total >= 0),
  payload text,
  created_at timestamptz NOT NULL DEFAULT now(),
  total_cents bigint GENERATED ALWAYS AS ((total * 100)::bigint) STORED
);
CREATE INDEX orders_created_idx ON orders (created_at);
CREATE TABLE "Sales"."Order Items" (id serial PRIMARY KEY, "Qty" int NOT NULL, order_id bigint REFERENCES public.orders(id), "Note;" text);
CREATE TABLE public."we""ird;name" (id int PRIMARY KEY, "v""al" text);
INSERT INTO regions SELECT g, 'region ' || g FROM generate_series(1, 5) g;
`;

export const SOURCE_DATA_SQL = `
INSERT INTO customers (name, note, region_id) SELECT 'customer ' || g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'note ' || g END, 1 + g % 5 FROM generate_series(1, 1000) g;
INSERT INTO orders (customer_id, total, payload, created_at)
  SELECT 1 + g % 1000, (g % 500) + 0.25,
         CASE WHEN g % 50 = 0 THEN (SELECT string_agg(md5(g::text || ':' || i), '') FROM generate_series(1, 400) i) ELSE 'small ' || g END,
         timestamptz '2026-11-01 00:00:00+00' + g * interval '1 minute'
  FROM generate_series(1, 5000) g;
INSERT INTO "Sales"."Order Items" ("Qty", order_id, "Note;") SELECT 1 + g % 9, 1 + g % 5000, 'item; ' || g FROM generate_series(1, 2000) g;
INSERT INTO public."we""ird;name" VALUES (1, 'a''b'), (2, '"quoted"'), (3, NULL);
`;

/** After the incident in production: the tables were dropped and recreated; the application wrote a few new rows. */
export const PRODUCTION_AFTER_INCIDENT_SQL = `
INSERT INTO customers (name, note, region_id) VALUES ('post-incident A', 'new', 1), ('post-incident B', 'new', 2);
INSERT INTO orders (customer_id, total, payload) VALUES (1, 10, 'post-incident order 1'), (2, 20, 'post-incident order 2'), (1, 30, 'post-incident order 3');
`;

export interface Pair {
  bin: PgBinaries;
  source: TempInstance;
  production: TempInstance;
  sourceConn: ConnParams;
  prodConn: ConnParams;
  workDir: string;
  destroy(): Promise<void>;
}

export async function startPair(o: { sourceData?: string; productionData?: string } = {}): Promise<Pair> {
  const bin = await findBinaries();
  const workDir = testWorkDir();
  const [source, production] = await Promise.all([
    TempInstance.create({ bin, workDir, name: 'cb-source', noSync: true }),
    TempInstance.create({ bin, workDir, name: 'cb-prod', noSync: true }),
  ]);
  await Promise.all([source.start(), production.start()]);
  await source.query(SCHEMA_SQL + (o.sourceData ?? SOURCE_DATA_SQL));
  await production.query(SCHEMA_SQL + (o.productionData ?? PRODUCTION_AFTER_INCIDENT_SQL));
  return {
    bin,
    source,
    production,
    sourceConn: source.connParams('postgres'),
    prodConn: production.connParams('postgres'),
    workDir,
    async destroy() {
      await Promise.all([source.destroy(), production.destroy()]);
    },
  };
}

/**
 * One pair for a test file: started in beforeAll (then `setup`, e.g. more
 * SQL in production), destroyed with every temporary instance the tests left
 * behind in afterAll. Read `.pair` inside the tests.
 */
export function usePair(o: Parameters<typeof startPair>[0] & { setup?: (p: Pair) => Promise<void>; timeoutMs?: number } = {}): { readonly pair: Pair } {
  let current: Pair | undefined;
  beforeAll(async () => {
    current = await startPair(o);
    await o.setup?.(current);
  }, o.timeoutMs);
  afterAll(async () => {
    await current?.destroy();
    await runAllCleanups();
  });
  return {
    get pair(): Pair {
      if (!current) throw new Error('usePair: the pair is started in beforeAll');
      return current;
    },
  };
}
