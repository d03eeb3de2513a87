// Copy back's DDL (ddl.ts): pg_dump --schema-only, then pg_restore splits it
// into pre-data and post-data, the foreign keys to tables that are not
// recovered cut out of the archive's list (pg_restore -l, filtered, -L). On
// the production-layouts schema (mixed-case "Sales"."Order Items", identity
// columns, serial sequences, comments, a quoted table name): the cut changes
// nothing but the cut constraints — pre-data is the uncut one, post-data is
// the uncut one without exactly those — and an FK between recovered tables
// stays.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBinaries, type PgBinaries } from '../../src/postgres/binaries.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { TempInstance } from '../../src/postgres/instance.js';
import type { SchemaDumpOptions } from '../../src/postgres/programs.js';
import { dumpSchemaSections } from '../../src/recovery/ddl.js';
import { testWorkDir } from '../helpers.js';
import { SCHEMA_SQL, SOURCE_DATA_SQL } from './copyback-fixture.js';

let bin: PgBinaries;
let source: TempInstance;
let workDir: string;
const conn = () => source.connParams('postgres');

/** The FK constraints' OIDs, by "table constraint". */
async function fkOids(): Promise<Map<string, number>> {
  const r = await source.query<{ name: string; oid: number }>("SELECT conrelid::regclass::text || ' ' || conname AS name, oid::int AS oid FROM pg_constraint WHERE contype = 'f'");
  return new Map(r.rows.map((x) => [x.name, x.oid]));
}

beforeAll(async () => {
  bin = await findBinaries();
  workDir = testWorkDir();
  source = await TempInstance.create({ bin, workDir, name: 'ddl-sections', noSync: true });
  await source.start();
  // One more FK that stays (both ends recovered together) and one more comment, on an index.
  await source.query(SCHEMA_SQL + SOURCE_DATA_SQL + `COMMENT ON INDEX orders_created_idx IS 'by day'; CREATE TABLE "Sales".notes (id int PRIMARY KEY, item_id int REFERENCES "Sales"."Order Items"(id));`);
});

afterAll(async () => {
  await source?.destroy();
  await runAllCleanups();
});

describe('copy back DDL: foreign keys to tables left out are cut, nothing else', () => {
  const cases: { name: string; dump: Omit<SchemaDumpOptions, 'file'>; cut: [table: string, constraint: string][] }[] = [
    { name: 'schema public, FK to regions left out', dump: { schemas: ['public'] }, cut: [['customers', 'customers_region_id_fkey']] },
    { name: 'mixed-case schema "Sales", FK to public.orders left out', dump: { schemas: ['Sales'] }, cut: [['"Sales"."Order Items"', 'Order Items_order_id_fkey']] },
    { name: 'tables in place (-t), two FKs left out', dump: { tables: [{ schema: 'public', name: 'orders' }, { schema: 'public', name: 'customers' }, { schema: 'Sales', name: 'Order Items' }] }, cut: [['customers', 'customers_region_id_fkey'], ['orders', 'orders_customer_id_fkey']] },
    { name: 'nothing left out', dump: { schemas: ['Sales'] }, cut: [] },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const oids = await fkOids();
      const exclude = c.cut.map(([table, constraint]) => {
        const n = `${table} ${constraint}`;
        const oid = oids.get(n);
        if (oid === undefined) throw new Error(`no FK ${n} (have: ${[...oids.keys()].join(', ')})`);
        return oid;
      });
      const uncut = await dumpSchemaSections(bin, conn(), c.dump, { workDir });
      const now = await dumpSchemaSections(bin, conn(), c.dump, { workDir, excludeConstraintOids: exclude });
      expect(now.preData).toMatch(/CREATE TABLE/);
      expect(now.preData).toBe(uncut.preData);
      // post-data: every statement of the uncut script but the cut constraints', in order
      const statements = (sql: string) => sql.split(/\n\n+/).map((x) => x.trim()).filter(Boolean);
      const kept = statements(uncut.postData).filter((st) => !c.cut.some(([, constraint]) => st.includes(constraint)));
      expect(statements(now.postData)).toEqual(kept);
      for (const [, constraint] of c.cut) {
        expect(uncut.postData).toContain(constraint);
        expect(now.postData).not.toContain(constraint);
      }
      if (c.name.includes('"Sales"')) expect(now.postData).toContain('notes_item_id_fkey'); // an FK between recovered tables stays
    });
  }
});
