import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { parseTableList } from '../../src/postgres/identifiers.js';
import { IncidentLog } from '../../src/recovery/incident-log.js';
import { copyBackVerifyPromote } from '../../src/recovery/recover.js';
import { recoverJson } from '../../src/recovery/report.js';
import { type Pair, startPair } from './copyback-fixture.js';

let pair: Pair;
beforeAll(async () => {
  pair = await startPair();
});
afterAll(async () => {
  await pair?.destroy();
  await runAllCleanups();
});

describe('copy back → verify → merge, with the incident log (real PostgreSQL)', () => {
  it('records steps, commands and LSNs in timeline.jsonl and writes a postmortem report', async () => {
    const log = IncidentLog.open({ workDir: pair.workDir });
    const plans: unknown[] = [];
    const r = await copyBackVerifyPromote({
      bin: pair.bin,
      log,
      sourceName: 'nightly',
      materialized: { conn: pair.sourceConn, database: 'postgres', recoveryPoint: { time: '2026-11-25T01:00:00.000Z', lsn: '0/3000000', basis: 'dump start' }, tables: [{ name: 'public.orders', rows: 5000 }], notes: [] },
      production: pair.prodConn,
      tables: parseTableList('customers, orders'),
      mode: 'merge',
      workDir: pair.workDir,
      confirmPromote: async (plan) => {
        plans.push(plan);
        return true;
      },
    });
    expect(r.verify.ok).toBe(true);
    expect(plans).toEqual([{ mode: 'merge', tables: [{ name: 'public.customers', from: `${r.copyBack.schema}.customers`, rows: 1000 }, { name: 'public.orders', from: `${r.copyBack.schema}.orders`, rows: 5000 }] }]);
    expect(r.merge!.tables.map((t) => t.inserted)).toEqual([998, 4997]);
    log.record('target', { kind: 'xid', xid: '1234', time: '2026-11-25T01:42:48.000Z', inclusive: false, origin: 'locate' });
    const report = log.finish({ ok: true });
    const md = readFileSync(report, 'utf8');
    expect(md).toContain('**recovered**');
    expect(md).toContain(`Side schema \`${r.copyBack.schema}\` in production`);
    expect(md).toContain('| public.orders | ' + r.copyBack.schema + '.orders | 5000 | md5sum:');
    expect(md).toContain('Loss window: 42 min 48 s');
    expect(md).toContain('| public.orders | 5000 | 4997 | 3 | 0 |');
    expect(md).toMatch(/DROP SCHEMA/);
    const lines = readFileSync(log.timelinePath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const types = new Set(lines.map((l) => l.type));
    for (const t of ['step-start', 'step-end', 'command-start', 'command-end', 'lsn', 'table-copied', 'table-verified', 'table-merged', 'foreign-key-left-out', 'incident-closed']) expect(types).toContain(t);
    expect(lines.some((l) => l.type === 'command-end' && /pg_dump .*--schema-only/.test(l.command) && l.exitCode === 0)).toBe(true);
    expect(lines.filter((l) => l.type === 'lsn').map((l) => l.label)).toEqual(['recovery point', 'production before copy back', 'production after copy back (commit)']);
    const json = recoverJson(log.facts, report, 1234);
    expect(json).toMatchObject({ source: 'nightly', recoveryPoint: { time: '2026-11-25T01:00:00.000Z', lsn: '0/3000000', xid: null }, mode: 'merge', schema: r.copyBack.schema, durationMs: 1234, report });
    expect(json.tables[1]).toEqual({ name: 'public.orders', recoveredAs: `${r.copyBack.schema}.orders`, rows: 5000, checksum: expect.stringMatching(/^md5sum:/), identity: 'not-proven', identityReason: null });
  });
});
