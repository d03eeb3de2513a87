import { describe, expect, it } from 'vitest';
import { parseTableList } from '../../src/postgres/identifiers.js';
import { classifyPair, conflictsTableName, conflictsTableSql, keyColumnAliases, mergeConflictsError, unresolvedUnder } from '../../src/recovery/merge-conflicts.js';
import { selectRecorded } from '../../src/recovery/promote-side-schema.js';
import { mergePlanLines, promoteQuestion } from '../../src/recovery/copy-verify-promote.js';
import { recreatedWarning } from '../../src/recovery/recover-checklist.js';
import { parseRecordComment, recordComment, type SideSchemaRecord } from '../../src/recovery/side-record.js';

describe('conflict classification', () => {
  const shared = ['id', 'customer', 'amount', 'payload'];
  it('a free key is inserted; a taken key with equal content is skipped; with other content it is a conflict', () => {
    const rec = { id: 1, customer: 'a', amount: '10.00', payload: { k: 1 } };
    expect(classifyPair(rec, undefined, shared)).toBe('insert');
    expect(classifyPair(rec, { ...rec }, shared)).toBe('skipped');
    expect(classifyPair(rec, { ...rec, amount: '11.00' }, shared)).toBe('conflict');
    expect(classifyPair(rec, { ...rec, payload: { k: 2 } }, shared)).toBe('conflict');
  });
  it('NULL equals NULL, NULL differs from a value; columns the live table lost are not compared', () => {
    const rec = { id: 1, customer: null, amount: '1', payload: null, gone: 'x' };
    expect(classifyPair(rec, { id: 1, customer: null, amount: '1', payload: null }, shared)).toBe('skipped');
    expect(classifyPair(rec, { id: 1, customer: '', amount: '1', payload: null }, shared)).toBe('conflict');
  });
  it('what each --on-conflict choice leaves unresolved (unresolved rows make merge refuse)', () => {
    const c = { keyConflicts: 3, otherUnique: 1 };
    expect(unresolvedUnder('fail', c)).toBe(4);
    expect(unresolvedUnder('keep-live', c)).toBe(0);
    expect(unresolvedUnder('rekey-live', c)).toBe(1);
    expect(unresolvedUnder('fail', { keyConflicts: 0, otherUnique: 0 })).toBe(0);
  });
});

describe('conflicts table', () => {
  it('is <table>__conflicts next to the recovered table, cut to 63 bytes', () => {
    expect(conflictsTableName({ schema: 'undrop_x', name: 'invoices' })).toEqual({ schema: 'undrop_x', name: 'invoices__conflicts' });
    const long = conflictsTableName({ schema: 's', name: 'x'.repeat(60) });
    expect(Buffer.byteLength(long.name)).toBe(63);
    expect(long.name.endsWith('__conflicts')).toBe(true);
  });
  it('key columns keep their names unless they clash with the pair columns', () => {
    expect(keyColumnAliases(['id'])).toEqual(['id']);
    expect(keyColumnAliases(['live_row', 'n'])).toEqual(['key_live_row', 'n']);
  });
  it('compares every shared column as text, set-based, with every identifier quoted', () => {
    const sql = conflictsTableSql({ schema: 'public', name: 'we"ird' }, { schema: 'undrop x', name: 'we"ird' }, ['id', 'Note;'], ['id']);
    expect(sql).toContain('CREATE TABLE "undrop x"."we""ird__conflicts" AS');
    expect(sql).toContain('FROM "undrop x"."we""ird" AS r JOIN "public"."we""ird" AS l ON l."id" = r."id"');
    expect(sql).toContain('WHERE ROW(r."id"::text, r."Note;"::text) IS DISTINCT FROM ROW(l."id"::text, l."Note;"::text)');
  });
});

describe('MERGE_CONFLICTS', () => {
  it('names the tables, counts, conflicts tables and the choices; exit 1', () => {
    const e = mergeConflictsError(
      [
        { name: 'public.invoices', conflicts: 7, otherUnique: 0, conflictsTable: 'undrop_x.invoices__conflicts' },
        { name: 'public.shipments', conflicts: 0, otherUnique: 0, conflictsTable: '' },
      ],
      'fail',
    );
    expect(e.code).toBe('MERGE_CONFLICTS');
    expect(e.exitCode).toBe(1);
    expect(e.message).toContain('public.invoices: 7 recovered row(s) whose key a live row now holds with other content (see undrop_x.invoices__conflicts)');
    expect(e.message).not.toContain('public.shipments');
    expect(e.message).toContain('Nothing live was changed');
    expect(e.hint).toContain('--on-conflict rekey-live');
    expect(e.hint).toContain('--on-conflict keep-live');
    const other = mergeConflictsError([{ name: 'public.customers', conflicts: 0, otherUnique: 2, conflictsTable: 'u.customers__conflicts' }], 'rekey-live');
    expect(other.message).toContain('public.customers: 2 kept out by another unique constraint (see u.customers__conflicts)');
    expect(other.hint).toContain('kind = other-unique');
  });
  it('the merge preview says which tables collide', () => {
    expect(mergePlanLines([
      { name: 'public.invoices', recoveredRows: 10, missing: 3, skipped: 0, conflicts: 7 },
      { name: 'public.shipments', recoveredRows: 10, missing: 10, skipped: 0, conflicts: 0, triggers: ['audit_ins'] },
      { name: 'public.t', recoveredRows: 0, missing: 0, skipped: 0, conflicts: 0, refused: 'no primary key' },
    ])).toEqual([
      'public.invoices: 3 rows to insert, 0 already there, 7 COLLISIONS (a live row written since the incident holds the key with other content)',
      'public.shipments: 10 rows to insert, 0 already there; its triggers audit_ins fire for every row merged (audit, outbox)',
      'public.t: merge refused (no primary key)',
      '(counted now; while the application writes, merge counts again under its lock)',
    ]);
  });
  it('the promote question names the collision choice; the early warning says whether the key restarted', () => {
    const tables = [{ name: 'public.invoices', from: 'u.invoices', rows: 10 }];
    const merge = [{ name: 'public.invoices', recoveredRows: 10, missing: 3, skipped: 0, conflicts: 7 }];
    expect(promoteQuestion({ mode: 'merge', tables, merge, onConflict: 'rekey-live' })).toBe('Merge: insert the recovered rows missing from the live tables (by primary key)? Collisions: give the live rows new keys, recovered rows keep theirs (--on-conflict rekey-live).');
    expect(promoteQuestion({ mode: 'merge', tables, merge })).toContain('Collisions: refuse and change nothing live (--on-conflict fail).');
    expect(promoteQuestion({ mode: 'merge', tables, merge: [{ ...merge[0]!, conflicts: 0 }] })).not.toContain('Collisions');
    expect(recreatedWarning({ table: 'public.invoices', liveRows: 5, keyRestarted: true })).toContain('its key sequence restarted with it and 5 row(s) were written since');
    expect(recreatedWarning({ table: 'public.shipments', liveRows: 5, keyRestarted: false })).toContain('5 row(s) were written to it since. Where they reuse a lost row\'s key');
  });
});

describe('side schema record (what undrop promote checks again)', () => {
  const rec: SideSchemaRecord = {
    version: 1,
    verifiedAt: '2026-11-29T17:00:00.000Z',
    source: 'pitr',
    recoveryPoint: { time: null, lsn: '0/3000000' },
    report: '/w/incidents/x/report.md',
    tables: [
      { name: 'public.invoices', original: { schema: 'public', name: 'invoices' }, recoveredAs: { schema: 'undrop_x', name: 'invoices' }, rows: 3, checksum: 'md5sum:1:2' },
      { name: '"Sales"."Order Items"', original: { schema: 'Sales', name: 'Order Items' }, recoveredAs: { schema: 'undrop_x', name: 'Order Items' }, rows: 1, checksum: 'md5sum:3:4' },
    ],
  };
  it('round-trips through the schema comment; other comments are not records', () => {
    expect(parseRecordComment(recordComment(rec))).toEqual(rec);
    expect(parseRecordComment('people who buy')).toBeUndefined();
    expect(parseRecordComment(null)).toBeUndefined();
    expect(parseRecordComment('undrop verified side schema {broken')).toBeUndefined();
  });
  it('--tables picks recorded tables by SQL name; an unknown one is bad input (exit 2)', () => {
    expect(selectRecorded(rec, undefined, 'undrop_x')).toHaveLength(2);
    expect(selectRecorded(rec, parseTableList('"Sales"."Order Items"'), 'undrop_x').map((t) => t.name)).toEqual(['"Sales"."Order Items"']);
    expect(selectRecorded(rec, parseTableList('invoices'), 'undrop_x').map((t) => t.name)).toEqual(['public.invoices']);
    const e = (() => {
      try {
        selectRecorded(rec, parseTableList('shipments'), 'undrop_x');
      } catch (x) {
        return x as { code: string; exitCode: number; hint: string };
      }
    })();
    expect(e).toMatchObject({ code: 'TABLE_NOT_IN_SIDE_SCHEMA', exitCode: 2 });
    expect(e!.hint).toContain('public.invoices');
  });
});

describe('report: Collisions', () => {
  it('says the keys restarted, lists each table\'s collisions, where the pairs are and what became of them', async () => {
    const { renderReport } = await import('../../src/recovery/report.js');
    const table = { name: 'public.invoices', from: 'undrop_x.invoices', recoveredRows: 10, inserted: 0, skipped: 1, conflicts: 4, otherUnique: 0, conflictsTable: 'undrop_x.invoices__conflicts', sample: [], resolution: 'unresolved' as const, rekey: null, primaryKey: ['id'], columnsNotMerged: [], sequences: [] };
    const refused = renderReport({ startedAt: 'x', recreated: [{ table: 'public.invoices', liveRows: 5 }], merge: { tables: [table], onConflict: 'fail', committed: false, durationMs: 1 } }, [], { timeline: 't' });
    expect(refused).toContain('## Collisions');
    expect(refused).toContain('The incident dropped and recreated `public.invoices`: its key sequence restarted with it, and 5 row(s) were written to it since.');
    expect(refused).toMatch(/\| public\.invoices \| 4 \| 0 \| \*\*unresolved: merge refused, nothing live changed\*\* \| undrop_x\.invoices__conflicts \|/);
    expect(refused).not.toContain('## Promoted (merge)');
    const rekey = { column: 'id', rows: 4, newKeys: { first: '11', last: '14' }, sequence: 'public.invoices_id_seq', followed: [{ table: 'notes', constraint: 'notes_ref_fkey', rows: 2 }] };
    const done = renderReport({ startedAt: 'x', merge: { tables: [{ ...table, inserted: 10, resolution: 'rekeyed-live', rekey }], onConflict: 'rekey-live', committed: true, durationMs: 1 } }, [], { timeline: 't' });
    expect(done).toContain('## Promoted (merge)');
    expect(done).toMatch(/live rows given new keys; recovered rows in under their own \| undrop_x\.invoices__conflicts \| 11 … 14 \|/);
    expect(done).toContain('2 row(s) of `notes` followed the new keys of `public.invoices`');
  });
});

describe('probe: live keys that look restarted', () => {
  it('warns when a table keyed by its own sequence has its highest key below the rows a source holds', async () => {
    const { collisionHints } = await import('../../src/recovery/collision-hints.js');
    const sources = [
      { name: 'wal', status: 'usable', tables: [{ name: 'public.invoices', present: true, rows: 1500 }, { name: 'public.events', present: true, rows: 10 }] },
      { name: 'nightly', status: 'unusable', tables: [{ name: 'public.invoices', present: true, rows: 9999 }] },
    ];
    const hints = collisionHints(
      [
        { table: 'public.invoices', liveRows: 37, maxKey: 37n },
        { table: 'public.shipments', liveRows: 90, maxKey: null }, // key not from its own sequence
        { table: 'public.events', liveRows: 40, maxKey: 40n }, // already past what any source holds
        { table: 'public.empty', liveRows: 0, maxKey: null },
      ],
      sources,
    );
    expect(hints.map((h) => [h.table, h.liveRows, h.liveMaxKey, h.sourceRows, h.source])).toEqual([['public.invoices', 37, '37', 1500, 'wal']]);
    expect(hints[0]!.message).toContain('its 37 live row(s) were written since and reuse lost rows\' keys, so a merge will meet collisions');
  });
});
