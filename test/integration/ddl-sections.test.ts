// Copy back's DDL (ddl.ts) cuts the foreign keys to tables that are not
// recovered out of pg_dump's archive with a pg_restore -L list built from the
// archive's own table of contents (postgres/archive-toc.ts), not from a
// `pg_restore -l` run. The SQL that reaches production must not change: on
// the production-layouts schema (mixed-case "Sales"."Order Items", identity
// columns, serial sequences, comments, a quoted table name, FKs left out) the
// pre-data and post-data scripts are byte-identical to the ones the old
// pipeline (pg_restore -l, filter the lines, -L) gave, and the parsed TOC is
// the one pg_restore -l prints.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArchiveToc } from '../../src/postgres/archive-toc.js';
import { findBinaries, type PgBinaries } from '../../src/postgres/binaries.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { TempInstance } from '../../src/postgres/instance.js';
import { pgDumpSchema, pgRestoreList, pgRestoreSql, type SchemaDumpOptions } from '../../src/postgres/programs.js';
import { cleanRestoreSql, dumpSchemaSections, filterToc } from '../../src/recovery/ddl.js';
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

/** The pipeline before archive-toc.ts: pg_restore -l, its lines filtered, then -L. */
async function oldSections(dump: Omit<SchemaDumpOptions, 'file'>, exclude: number[]) {
  const dir = mkdtempSync(join(workDir, 'old-ddl-'));
  try {
    const archive = join(dir, 'schema.dump');
    await pgDumpSchema(bin, conn(), { ...dump, file: archive });
    let listFile: string | undefined;
    if (exclude.length) {
      listFile = join(dir, 'schema.list');
      writeFileSync(listFile, filterToc((await pgRestoreList(bin, archive)).stdout, exclude));
    }
    const opts = { listFile, noOwner: true, noPrivileges: true };
    const [pre, post] = await Promise.all([pgRestoreSql(bin, archive, { ...opts, section: 'pre-data' }), pgRestoreSql(bin, archive, { ...opts, section: 'post-data' })]);
    return { preData: cleanRestoreSql(pre), postData: cleanRestoreSql(post), archive: readFileSync(archive), listed: (await pgRestoreList(bin, archive)).stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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

describe('copy back DDL without pg_restore -l', () => {
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
      const before = await oldSections(c.dump, exclude);
      const now = await dumpSchemaSections(bin, conn(), c.dump, { workDir, excludeConstraintOids: exclude });
      expect(now.preData).toBe(before.preData);
      expect(now.postData).toBe(before.postData);
      expect(now.preData).toMatch(/CREATE TABLE/);
      for (const [, constraint] of c.cut) expect(now.postData).not.toContain(constraint);
      if (c.name.includes('"Sales"')) expect(now.postData).toContain('notes_item_id_fkey'); // an FK between recovered tables stays
      // The parsed TOC: every line pg_restore -l prints, same dump ID, catalog, OID and type.
      const parsed = new Map(parseArchiveToc(before.archive).map((e) => [e.dumpId, `${e.dumpId}; ${e.tableoid} ${e.oid} ${e.desc} `]));
      const lines = before.listed.split('\n').filter((l) => /^\d+;/.test(l));
      expect(lines.length).toBeGreaterThan(5);
      for (const l of lines) expect(l.startsWith(parsed.get(Number(l.split(';')[0]))!)).toBe(true);
    });
  }

  it('a file that is not a custom-format archive is refused, not misread', () => {
    expect(() => parseArchiveToc(Buffer.from('-- plain SQL\n'))).toThrow(/custom-format/);
    const head = Buffer.from('PGDMP\x01\x11\x00\x04\x08\x01', 'latin1');
    expect(() => parseArchiveToc(head)).toThrow(/version 1\.17/);
  });
});
