// The tables of a plain SQL dump, found by a byte scan: every CREATE TABLE,
// whatever chunk boundary it falls on, and nothing inside COPY data.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { plainTables, tableOfCreate } from '../../src/sources/dump/plain-tables.js';

const dump = [
  'CREATE TABLE public.shipments (',
  '    id bigint NOT NULL',
  ');',
  'CREATE TABLE IF NOT EXISTS "Sales"."Order Items" (',
  '    id integer',
  ');',
  'COPY public.shipments (id) FROM stdin;',
  '1\tCREATE TABLE inside.data (a row that only looks like one, after a tab)',
  '\\.',
  'CREATE TABLE "we""ird".t2 (x int);',
  'CREATE TABLE bare (x int);',
  '',
].join('\n');

describe('plain dump tables', () => {
  it('parses schema-qualified, quoted and bare names', () => {
    expect(tableOfCreate('"Sales"."Order Items" (')).toEqual({ schema: 'Sales', name: 'Order Items', rows: null });
    expect(tableOfCreate('IF NOT EXISTS public.x (')).toEqual({ schema: 'public', name: 'x', rows: null });
    expect(tableOfCreate('bare (x int);')).toEqual({ schema: 'public', name: 'bare', rows: null });
  });

  it('finds every CREATE TABLE at any chunk size, the first line included, none inside data', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plain-tables-'));
    const path = join(dir, 'x.sql');
    writeFileSync(path, dump);
    const want = ['public.shipments', 'Sales.Order Items', 'we"ird.t2', 'public.bare'];
    for (const chunk of [1, 2, 3, 7, 13, 64, 1 << 20]) {
      const got = (await plainTables(path, chunk)).map((t) => `${t.schema}.${t.name}`);
      expect(got, `chunk ${chunk}`).toEqual(want);
    }
  });
});
