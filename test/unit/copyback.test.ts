import { describe, expect, it } from 'vitest';
import { exactPattern } from '../../src/postgres/programs.js';
import { algorithmOf, checksumSettingsSql, checksumSql, chooseAlgorithm, formatChecksum } from '../../src/recovery/checksum.js';
import { copyStatements } from '../../src/recovery/copy-data.js';
import { cleanRestoreSql, filterToc, hasStatements } from '../../src/recovery/ddl.js';
import { mergeInsertSql, presentCountSql } from '../../src/recovery/promote-merge.js';
import { lossWindowMs, renderReport } from '../../src/recovery/report.js';
import { sideSchemaName, withSuffix } from '../../src/recovery/side-schema.js';
import { chooseToastCompression } from '../../src/recovery/toast-compression.js';

describe('checksum SQL', () => {
  it('quotes every identifier and hashes each row as a whole', () => {
    const sql = checksumSql({ schema: 'Sales', name: 'we"ird;name' }, 'md5sum');
    expect(sql).toContain('FROM "Sales"."we""ird;name" AS r');
    expect(sql).toContain('md5((r.*)::text)'); // r.*: a column named r would shadow a bare r
    const fast = checksumSql({ schema: 'Sales', name: 'we"ird;name' });
    expect(fast).toContain('FROM "Sales"."we""ird;name" AS r');
    expect(fast).toContain('hashtextextended(h, 0)');
    expect(fast).toContain('hashtextextended(h, 1)');
    expect(fast).not.toMatch(/ORDER BY/i);
    expect(sql).not.toMatch(/ORDER BY/i);
    expect(checksumSql({ name: 'orders' })).toContain('FROM "public"."orders" AS r');
  });
  it('pins the settings that change row text', () => {
    expect(checksumSettingsSql()).toContain("SET LOCAL TimeZone = 'UTC'");
    expect(checksumSettingsSql()).toContain("SET LOCAL bytea_output = 'hex'");
    expect(formatChecksum(0, '0', '0')).toBe('empty');
    expect(formatChecksum(2, '-5', '7')).toBe('md5sum:-5:7');
    expect(formatChecksum(2, '-5', '7', 'hash128')).toBe('hash128:-5:7');
  });
  it('uses the cheap hash only when both servers hash alike, and reads the algorithm back from a checksum', () => {
    const le = { encoding: 'UTF8', canary: '1/2' };
    expect(chooseAlgorithm(le, { ...le })).toBe('hash128');
    expect(chooseAlgorithm(le, { encoding: 'LATIN1', canary: '1/2' })).toBe('md5sum');
    expect(chooseAlgorithm(le, { encoding: 'UTF8', canary: '3/4' })).toBe('md5sum'); // other byte order
    expect(algorithmOf('hash128:1:2')).toBe('hash128');
    expect(algorithmOf('md5sum:1:2')).toBe('md5sum');
    expect(algorithmOf('empty')).toBeUndefined();
  });
});

describe('DDL handling', () => {
  const toc = [
    ';',
    '; Selected TOC Entries:',
    '5; 2615 16500 SCHEMA - recovered postgres',
    '218; 1259 16412 TABLE recovered invoices postgres',
    '3220; 2606 16418 CONSTRAINT recovered invoices invoices_pkey postgres',
    '3223; 2606 16405 FK CONSTRAINT recovered invoices invoices_customer_fkey postgres',
    '3224; 2606 16406 FK CONSTRAINT recovered "we""ird" "x 16405" postgres',
  ].join('\n');
  it('cuts FK constraints by OID only', () => {
    const out = filterToc(toc, [16405]);
    expect(out).not.toContain('invoices_customer_fkey');
    expect(out).toContain('"x 16405"');
    expect(out).toContain('invoices_pkey');
    expect(out.split('\n')).toHaveLength(6);
  });
  it('drops psql-only \\restrict lines and nothing else', () => {
    const sql = '\\restrict abcDEF123\nSET x = 1;\nCOMMENT ON TABLE t IS \'a\n\\restrict is text here\';\n\\unrestrict abcDEF123\n';
    expect(cleanRestoreSql(sql)).toBe("SET x = 1;\nCOMMENT ON TABLE t IS 'a\n\\restrict is text here';\n");
  });
  it('sees whether a section has statements', () => {
    expect(hasStatements("--\n-- PostgreSQL database dump\n--\nSET statement_timeout = 0;\nSELECT pg_catalog.set_config('search_path', '', false);\n")).toBe(false);
    expect(hasStatements('SET x = 1;\nALTER TABLE ONLY a ADD CONSTRAINT a_pkey PRIMARY KEY (id);\n')).toBe(true);
  });
  it('builds exact pg_dump patterns', () => {
    expect(exactPattern('undrop_20261125_024512')).toBe('"undrop_20261125_024512"');
    expect(exactPattern('we"ird*.x')).toBe('"we""ird*.x"');
  });
});

describe('COPY and merge SQL', () => {
  it('copies named columns in binary, FREEZE on the new table', () => {
    const s = copyStatements({ schema: 's', name: 'Order Items' }, { schema: 'undrop_x', name: 'Order Items' }, ['id', 'Qty', 'a"b'], { freeze: true });
    expect(s.out).toBe('COPY "s"."Order Items" ("id", "Qty", "a""b") TO STDOUT (FORMAT binary)');
    expect(s.in).toBe('COPY "undrop_x"."Order Items" ("id", "Qty", "a""b") FROM STDIN (FORMAT binary, FREEZE)');
  });
  it('inserts only rows whose key is missing, counting them', () => {
    const sql = mergeInsertSql({ schema: 'public', name: 'we"ird' }, { schema: 'undrop_x', name: 'we"ird' }, ['id', 'v;al'], ['id']);
    expect(sql).toContain('INSERT INTO "public"."we""ird" AS l ("id", "v;al") OVERRIDING SYSTEM VALUE');
    expect(sql).toContain('WHERE NOT EXISTS (SELECT 1 FROM "public"."we""ird" AS l WHERE l."id" = r."id")');
    expect(sql).toContain('ON CONFLICT DO NOTHING');
    expect(presentCountSql({ schema: 'a', name: 'b' }, { schema: 'c', name: 'b' }, ['k1', 'k2'])).toContain('l."k1" = r."k1" AND l."k2" = r."k2"');
  });
});

describe('names', () => {
  it('side schema names', () => {
    expect(sideSchemaName(undefined, new Date('2026-11-25T02:45:12Z'))).toBe('undrop_20261125_024512');
    expect(sideSchemaName('Recovered "x"')).toBe('Recovered "x"');
    expect(() => sideSchemaName('pg_temp_x')).toThrow(/reserved/);
    expect(() => sideSchemaName('x'.repeat(64))).toThrow(/63 bytes/);
  });
  it('suffixes fit in 63 bytes without splitting a character', () => {
    const s = '_before_undrop_20261125_030000';
    expect(withSuffix('orders', s)).toBe('orders_before_undrop_20261125_030000');
    const long = withSuffix('é'.repeat(40), s);
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(63);
    expect(long.endsWith(s)).toBe(true);
    expect(long).not.toContain('\uFFFD');
  });
});

describe('report', () => {
  it('renders the loss window and next steps', () => {
    const facts = {
      startedAt: '2026-11-25T03:00:00.000Z',
      target: { kind: 'xid' as const, xid: '901', time: '2026-11-25T01:42:48.000Z', inclusive: false as const, origin: 'locate' },
      materialized: { source: 'replica-4h', recoveryPoint: { time: '2026-11-25T01:40:00.000Z', lsn: '0/5000000' }, tables: [], notes: [] },
      nextSteps: ['Resume the replica: SELECT pg_wal_replay_resume();'],
      outcome: { ok: true },
    };
    expect(lossWindowMs(facts)).toBe(168_000);
    const md = renderReport(facts, [], { timeline: '/w/timeline.jsonl' });
    expect(md).toContain('Recovery target: xid 901, time 2026-11-25T01:42:48.000Z (exclusive); from locate.');
    expect(md).toContain('Loss window: 2 min 48 s');
    expect(md).toContain('- Resume the replica: SELECT pg_wal_replay_resume();');
  });
});

describe('incident log', () => {
  it('writes one JSON object per line, passwords redacted, and a report at the end', async () => {
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { IncidentLog } = await import('../../src/recovery/incident-log.js');
    const dir = mkdtempSync(join(tmpdir(), 'undrop-log-'));
    const log = IncidentLog.open({ workDir: dir, now: new Date('2026-11-25T02:45:12Z'), noCommands: true });
    expect(log.dir).toBe(join(dir, 'incidents', 'incident_20261125_024512'));
    log.event('note', { dsn: 'postgresql://app:s3cret@db1/shop', kv: "host=db1 password='p w'" });
    await log.step('works', async () => 1);
    await expect(log.step('fails', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    log.lsn('recovery point', '0/5000000', 'replica');
    const report = log.finish({ ok: false, error: new Error('boom') });
    const text = readFileSync(log.timelinePath, 'utf8');
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain('p w');
    const lines = text.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.type)).toEqual(['incident-opened', 'note', 'step-start', 'step-end', 'step-start', 'step-failed', 'lsn', 'incident-closed']);
    const md = readFileSync(report, 'utf8');
    expect(md).toContain('**failed**');
    expect(md).toContain('| fails |');
    expect(IncidentLog.open({ workDir: dir, now: new Date('2026-11-25T02:45:12Z'), noCommands: true }).dir).toMatch(/incident_20261125_024512_2$/);
  });
});

describe('TOAST compression of the recovered rows', () => {
  it('lz4 where production offers it and does not use it already; the server\'s default otherwise or when asked', () => {
    expect(chooseToastCompression('lz4', { serverDefault: 'pglz', lz4: true })).toBe('lz4');
    expect(chooseToastCompression('lz4', { serverDefault: 'lz4', lz4: true })).toBeNull();
    expect(chooseToastCompression('lz4', { serverDefault: 'pglz', lz4: false })).toBeNull(); // built without lz4, or < 14
    expect(chooseToastCompression('server', { serverDefault: 'pglz', lz4: true })).toBeNull();
  });
});
