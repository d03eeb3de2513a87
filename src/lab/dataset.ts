// The `shipping` database: shaped like the incident's. Three tables the
// incident drops (shipments with a bigint key, shipment_events with a
// bigserial key, a foreign key and a secondary index, invoices with an
// identity column and an index), text/numeric/timestamptz/jsonb columns,
// TOASTed notes, a carriers table with a view on it that survives, and a
// plpgsql function the workload calls. Row counts follow --scale.
// A fourth lost table lives in a mixed-case schema with a space in its name,
// "Sales"."Order Items" (identity column, a domain, a check constraint, a
// comment, TOASTed jsonb): every source kind must bring it back too. Nothing
// writes to it after the build, so its truth is one checksum.
import type pg from 'pg';

export const LAB_DATABASE = 'shipping';
/** The tables the incident drops, in the order a dump or copy-back must restore them. */
export const LOST_TABLES = ['public.shipments', 'public.shipment_events', 'public.invoices'] as const;
/** Ids the workload uses come from here; the incident does not drop it, so ids never repeat. */
export const WORKLOAD_SEQUENCE = 'workload_shipment_ids';
/** The lost table outside public, in SQL spelling (and as truth.json and recover's JSON name it). */
export const MIXED_CASE_TABLE = '"Sales"."Order Items"';
/** Every table the incident drops. */
export const INCIDENT_TABLES = [...LOST_TABLES, MIXED_CASE_TABLE] as const;

/** Rows of "Sales"."Order Items" for a scale: static after the build. */
export function orderItemRows(scale: number): number {
  return Math.min(5000, Math.max(100, Math.round(scale / 5)));
}

/** The mixed-case table's DDL (the incident recreates it with exactly this; the schema and domain survive). */
export const MIXED_CASE_TABLE_DDL = `
CREATE TABLE "Sales"."Order Items" (
  "Line Id" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  "Order No" text NOT NULL,
  quantity "Sales".positive_qty NOT NULL,
  unit_price numeric(10,2) NOT NULL CONSTRAINT "Order Items price ≥ 0" CHECK (unit_price >= 0),
  details jsonb
);
COMMENT ON TABLE "Sales"."Order Items" IS 'Order lines; details may be large (TOAST)';
`;
export const WORKLOAD_FIRST_ID = 1_000_000_000;

export interface ScaleCounts {
  shipments: number;
  events: number;
  invoices: number;
}

/** events = 1.5 × shipments, invoices = 0.5 × shipments (15M rows in total at --scale 5000000). */
export function scaleCounts(scale: number): ScaleCounts {
  return { shipments: scale, events: Math.round(scale * 1.5), invoices: Math.round(scale / 2) };
}

/** The DDL of the three lost tables (the incident recreates them with exactly this). */
export const LOST_TABLES_DDL = `
CREATE TABLE shipments (
  id bigint PRIMARY KEY,
  carrier_id int NOT NULL REFERENCES carriers(id),
  customer text NOT NULL,
  status text NOT NULL,
  weight_kg numeric(8,2),
  declared_value numeric(12,2),
  notes text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE shipment_events (
  id bigserial PRIMARY KEY,
  shipment_id bigint NOT NULL REFERENCES shipments(id),
  event text NOT NULL,
  location text,
  payload jsonb,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shipment_events_shipment_id_idx ON shipment_events (shipment_id);
CREATE TABLE invoices (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  shipment_id bigint,
  customer text NOT NULL,
  amount numeric(10,2) NOT NULL,
  currency text NOT NULL DEFAULT 'EUR',
  issued_at timestamptz NOT NULL
);
CREATE INDEX invoices_issued_at_idx ON invoices (issued_at);
`;

const SCHEMA_DDL = `
CREATE TABLE carriers (
  id int PRIMARY KEY,
  name text NOT NULL UNIQUE,
  country text NOT NULL,
  active boolean NOT NULL DEFAULT true
);
INSERT INTO carriers (id, name, country)
SELECT g, 'Carrier ' || g, (ARRAY['DE','FR','NL','PL','IT','ES'])[1 + g % 6] FROM generate_series(1, 20) g;
CREATE VIEW active_carriers AS SELECT id, name, country FROM carriers WHERE active;
${LOST_TABLES_DDL}
CREATE SCHEMA "Sales";
CREATE DOMAIN "Sales".positive_qty AS integer CHECK (VALUE > 0);
${MIXED_CASE_TABLE_DDL}
CREATE SEQUENCE ${WORKLOAD_SEQUENCE} START ${WORKLOAD_FIRST_ID};

-- The application's write path, called by the background workload. Errors
-- (for example while a migration holds its locks) are reported and skipped,
-- as a retrying application would, so the workload outlives the incident.
CREATE FUNCTION record_shipment() RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  sid bigint := nextval('${WORKLOAD_SEQUENCE}');
BEGIN
  INSERT INTO shipments (id, carrier_id, customer, status, weight_kg, declared_value, notes)
  VALUES (sid, 1 + sid % 20, 'cust' || (sid % 5000), 'new', (sid % 1000) / 10.0, (sid % 100000) / 7.0, NULL);
  INSERT INTO shipment_events (shipment_id, event, location, payload)
  VALUES (sid, 'created', 'hub-' || (sid % 50), jsonb_build_object('source', 'workload'));
  IF sid % 3 = 0 THEN
    INSERT INTO invoices (shipment_id, customer, amount, issued_at) VALUES (sid, 'cust' || (sid % 5000), (sid % 10000) / 3.0, now());
  END IF;
  RETURN sid;
EXCEPTION WHEN OTHERS THEN
  RAISE WARNING 'record_shipment: %', SQLERRM;
  RETURN NULL;
END
$fn$;

-- A read path used by reports.
CREATE FUNCTION shipment_total(p_shipment bigint) RETURNS numeric LANGUAGE sql STABLE AS $fn$
  SELECT coalesce(sum(amount), 0) FROM invoices WHERE shipment_id = p_shipment
$fn$;
`;

/** Rows [from, to] of shipments; every 100th gets a TOASTed note (~6 kB of hex, stored out of line). */
function shipmentsInsert(from: number, to: number): string {
  return `
INSERT INTO shipments (id, carrier_id, customer, status, weight_kg, declared_value, notes, created_at)
SELECT g, 1 + g % 20, 'cust' || (g % 5000),
       (ARRAY['new','packed','shipped','in transit','delivered','returned'])[1 + g % 6],
       (g % 1000) / 10.0, (g % 100000) / 7.0,
       CASE WHEN g % 100 = 0 THEN (SELECT string_agg(md5(g::text || ':' || i), '') FROM generate_series(1, 200) i)
            WHEN g % 7 = 0 THEN 'fragile; call before delivery' END,
       timestamptz '2026-01-01 00:00:00+00' + (g || ' seconds')::interval
FROM generate_series(${from}, ${to}) g`;
}

function eventsInsert(from: number, to: number, shipments: number): string {
  return `
INSERT INTO shipment_events (shipment_id, event, location, payload, at)
SELECT 1 + (g * 7) % ${shipments}, (ARRAY['created','picked up','scanned','out for delivery','delivered'])[1 + g % 5],
       'hub-' || (g % 50), CASE WHEN g % 10 = 0 THEN jsonb_build_object('scanner', g % 97, 'temp_c', (g % 40) - 10) END,
       timestamptz '2026-01-01 00:00:00+00' + (g || ' seconds')::interval
FROM generate_series(${from}, ${to}) g`;
}

function invoicesInsert(from: number, to: number, shipments: number): string {
  return `
INSERT INTO invoices (shipment_id, customer, amount, currency, issued_at)
SELECT 1 + (g * 3) % ${shipments}, 'cust' || (g % 5000), (g % 10000) / 3.0, (ARRAY['EUR','USD','PLN'])[1 + g % 3],
       timestamptz '2026-01-01 00:00:00+00' + (g || ' minutes')::interval
FROM generate_series(${from}, ${to}) g`;
}

/** Order lines; every 25th has ~13 kB of jsonb details (stored out of line, TOAST). */
function orderItemsInsert(n: number): string {
  return `
INSERT INTO "Sales"."Order Items" ("Order No", quantity, unit_price, details)
SELECT 'SO-' || lpad((g / 3)::text, 6, '0'), 1 + g % 9, (g % 5000) / 4.0,
       CASE WHEN g % 25 = 0 THEN jsonb_build_object('lines', (SELECT jsonb_agg(md5(g::text || '/' || i)) FROM generate_series(1, 400) i))
            WHEN g % 2 = 0 THEN jsonb_build_object('gift', g % 4 = 0) END
FROM generate_series(1, ${n}) g`;
}

/** Create the schema and load `fraction` (0..1] of the rows for this scale. */
export async function createDataset(client: pg.Client, scale: number, fraction: number): Promise<void> {
  await client.query(SCHEMA_DDL);
  await client.query(orderItemsInsert(orderItemRows(scale)));
  await client.query('ANALYZE "Sales"."Order Items"');
  await loadRange(client, scale, 0, fraction);
}

/** Load the rows between two fractions of the scale (later batches: "business since the backup"). */
export async function loadRange(client: pg.Client, scale: number, fromFraction: number, toFraction: number): Promise<void> {
  const c = scaleCounts(scale);
  const range = (n: number) => [Math.floor(n * fromFraction) + 1, Math.floor(n * toFraction)] as const;
  const [s1, s2] = range(c.shipments);
  const [e1, e2] = range(c.events);
  const [i1, i2] = range(c.invoices);
  // Events only point at shipments that exist by then.
  if (s2 >= s1) await client.query(shipmentsInsert(s1, s2));
  if (e2 >= e1) await client.query(eventsInsert(e1, e2, Math.max(1, s2)));
  if (i2 >= i1) await client.query(invoicesInsert(i1, i2, Math.max(1, s2)));
  await client.query('ANALYZE shipments, shipment_events, invoices');
}

/** The workload's pgbench script: one application transaction per call. */
export const WORKLOAD_SQL = 'SELECT record_shipment();\n';
