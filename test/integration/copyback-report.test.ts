import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseTableList } from '../../src/postgres/identifiers.js';
import { IncidentLog } from '../../src/recovery/incident-log.js';
import { copyBackVerifyPromote } from '../../src/recovery/copy-verify-promote.js';
import { recoverJson } from '../../src/recovery/report.js';
import { parseRecordComment } from '../../src/recovery/side-record.js';
import { startPair, usePair } from './copyback-fixture.js';

const fx = usePair();

describe('copy back → verify → merge, with the incident log (real PostgreSQL)', () => {
  it('guided flow: with collisions and no --on-conflict, the resolution is asked with the counts, then used', async () => {
    const pair = await startPair();
    await pair.production.query(`CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
      CREATE TRIGGER customers_audit AFTER INSERT ON customers FOR EACH ROW EXECUTE FUNCTION audit();`);
    const log = IncidentLog.open({ workDir: pair.workDir });
    const asked: unknown[] = [];
    const r = await copyBackVerifyPromote({
      bin: pair.bin,
      log,
      sourceName: 'nightly',
      materialized: { conn: pair.sourceConn, database: 'postgres', recoveryPoint: { time: null, lsn: null, basis: 'test' }, tables: [], notes: [] },
      production: pair.prodConn,
      tables: parseTableList('customers'),
      mode: 'merge',
      schema: 'undrop_guided',
      workDir: pair.workDir,
      chooseOnConflict: async (plan) => {
        asked.push(plan.merge);
        return 'keep-live';
      },
      confirmPromote: async (plan) => plan.onConflict === 'keep-live',
    });
    log.finish({ ok: true });
    expect(asked).toEqual([[{ name: 'public.customers', recoveredRows: 1000, missing: 998, skipped: 0, conflicts: 2, triggers: ['customers_audit'] }]]);
    expect(r.merge!.tables.map((t) => [t.inserted, t.conflicts, t.resolution])).toEqual([[998, 2, 'kept-live']]);
    await pair.destroy();
  });


  it('records steps, commands and LSNs in timeline.jsonl and writes a postmortem report', async () => {
    const log = IncidentLog.open({ workDir: fx.pair.workDir });
    const plans: unknown[] = [];
    const r = await copyBackVerifyPromote({
      bin: fx.pair.bin,
      log,
      sourceName: 'nightly',
      materialized: { conn: fx.pair.sourceConn, database: 'postgres', recoveryPoint: { time: '2026-11-25T01:00:00.000Z', lsn: '0/3000000', basis: 'dump start' }, tables: [{ name: 'public.orders', rows: 5000 }], notes: [] },
      production: fx.pair.prodConn,
      tables: parseTableList('customers, orders'),
      mode: 'merge',
      onConflict: 'keep-live',
      workDir: fx.pair.workDir,
      confirmPromote: async (plan) => {
        plans.push(plan);
        return true;
      },
    });
    expect(r.verify.ok).toBe(true);
    // the question comes with what merge would meet: the fixture's post-incident rows reuse keys 1-2 and 1-3
    expect(plans).toEqual([
      {
        mode: 'merge',
        onConflict: 'keep-live',
        tables: [{ name: 'public.customers', from: `${r.copyBack.schema}.customers`, rows: 1000 }, { name: 'public.orders', from: `${r.copyBack.schema}.orders`, rows: 5000 }],
        merge: [
          { name: 'public.customers', recoveredRows: 1000, missing: 998, skipped: 0, conflicts: 2 },
          { name: 'public.orders', recoveredRows: 5000, missing: 4997, skipped: 0, conflicts: 3 },
        ],
      },
    ]);
    expect(r.merge!.tables.map((t) => [t.inserted, t.conflicts, t.resolution])).toEqual([[998, 2, 'kept-live'], [4997, 3, 'kept-live']]);
    // the side schema carries what verify proved (undrop promote checks it again)
    const comment = await fx.pair.production.query(`SELECT obj_description(oid, 'pg_namespace') AS c FROM pg_namespace WHERE nspname = $1`, [r.copyBack.schema]);
    const rec = parseRecordComment(comment.rows[0].c)!;
    expect(rec).toMatchObject({ version: 1, source: 'nightly', report: log.reportPath });
    expect(rec.tables.map((t) => [t.name, t.rows, t.checksum])).toEqual(r.verify.tables.map((v) => [v.name, v.copy.rows, v.copy.checksum]));
    log.record('target', { kind: 'xid', xid: '1234', time: '2026-11-25T01:42:48.000Z', inclusive: false, origin: 'locate' });
    const report = log.finish({ ok: true });
    const md = readFileSync(report, 'utf8');
    expect(md).toContain('**recovered**');
    expect(md).toContain(`Side schema \`${r.copyBack.schema}\` in production`);
    expect(md).toContain('| public.orders | ' + r.copyBack.schema + '.orders | 5000 | colhash64:');
    expect(md).toContain('Loss window: 42 min 48 s');
    expect(md).toContain('| public.orders | 5000 | 4997 | 0 | 3 |');
    expect(md).toContain('## Collisions');
    expect(md).toContain(`| public.orders | 3 | 0 | live rows kept; recovered rows left out | ${r.copyBack.schema}.orders__conflicts |`);
    expect(md).toMatch(/DROP SCHEMA/);
    const lines = readFileSync(log.timelinePath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const types = new Set(lines.map((l) => l.type));
    for (const t of ['step-start', 'step-end', 'command-start', 'command-end', 'lsn', 'table-copied', 'table-verified', 'table-merged', 'foreign-key-left-out', 'incident-closed']) expect(types).toContain(t);
    expect(lines.some((l) => l.type === 'command-end' && /pg_dump .*--schema-only/.test(l.command) && l.exitCode === 0)).toBe(true);
    expect(lines.filter((l) => l.type === 'lsn').map((l) => l.label)).toEqual(['recovery point', 'production before copy back', 'production after copy back (commit)']);
    const json = recoverJson(log.facts, report, 1234);
    expect(json).toMatchObject({ source: 'nightly', recoveryPoint: { time: '2026-11-25T01:00:00.000Z', lsn: '0/3000000', xid: null }, mode: 'merge', schema: r.copyBack.schema, durationMs: 1234, report });
    expect(json.tables[1]).toEqual({ name: 'public.orders', recoveredAs: `${r.copyBack.schema}.orders`, rows: 5000, checksum: expect.stringMatching(/^colhash64:/), identity: 'not-proven', identityReason: null });
  });
});
