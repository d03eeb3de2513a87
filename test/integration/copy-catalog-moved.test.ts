// The alongside WAL scan names the lost files from recover's own temporary
// instance, and copy back moves those very tables into its staging schema
// there meanwhile. A naming that reads the catalog after the move must still
// name them where they were: CI once got "identity not proven" when the scan,
// slowed by load, named public.shipments "undrop_staging_….shipments".
import { afterAll, describe, expect, it } from 'vitest';
import { findBinaries } from '../../src/postgres/binaries.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { TempInstance } from '../../src/postgres/instance.js';
import { lookupRelations, type RecoveredCopy, recoveredCopyCatalog } from '../../src/recovery/locate/catalog.js';
import { testWorkDir } from '../helpers.js';

afterAll(() => runAllCleanups());

describe('naming from recover\'s own copy after copy back moved the tables', () => {
  it('names each table (and its index and TOAST files) in its own schema, before and after the move', async () => {
    const bin = await findBinaries();
    const inst = await TempInstance.create({ bin, workDir: testWorkDir(), name: 'moved', throwaway: true });
    try {
      await inst.start();
      await inst.query(`create schema "Sales";
        create table public.shipments (id bigint primary key, notes text);
        create table "Sales"."Order Items" (id bigint primary key, details jsonb)`);
      const files = (await inst.query<{ f: string }>(`select relfilenode::text as f from pg_class where relname in ('shipments', 'Order Items', 'shipments_pkey')
        union all select t.relfilenode::text from pg_class c join pg_class t on t.oid = c.reltoastrelid where c.relname = 'Order Items'`)).rows.map((r) => Number(r.f));
      const copy: RecoveredCopy = { label: 'the copy', params: (db) => ({ ...inst.connParams(db) }) };
      const catalog = recoveredCopyCatalog(copy, '0/0');
      const named = async () => {
        const rows = (await lookupRelations(copy.params('postgres'), files, [])).map((r) => catalog.unmove!(r));
        return [...new Set(rows.map((r) => `${r.ownerSchema}.${r.ownerName}`))].sort();
      };
      const expected = ['Sales.Order Items', 'public.shipments'];
      expect(await named()).toEqual(expected);
      // what copy back tells the copy, then does (copy-back.ts moveInSource)
      copy.moved = { staging: 'undrop_staging_0123456789ab', tables: [{ schema: 'public', name: 'shipments' }, { schema: 'Sales', name: 'Order Items' }] };
      await inst.query(`begin; create schema undrop_staging_0123456789ab;
        alter table public.shipments set schema undrop_staging_0123456789ab;
        alter table "Sales"."Order Items" set schema undrop_staging_0123456789ab; commit`);
      const raw = await lookupRelations(copy.params('postgres'), files, []);
      expect(raw.every((r) => r.ownerSchema === 'undrop_staging_0123456789ab')).toBe(true);
      expect(await named()).toEqual(expected);
    } finally {
      await inst.destroy();
    }
  });
});
