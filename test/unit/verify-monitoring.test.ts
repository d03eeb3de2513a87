// verify's monitoring outputs and suite logic, as a scraper and a user see
// them: the Prometheus file parsed by a real parser, the Nagios line and exit
// codes, row tolerance, expectations, the verify block in undrop.yaml.
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { validateInventory } from '../../src/inventory/load.js';
import type { RestoreTestResult } from '../../src/recovery/restore-test.js';
import { allowedRowDifference, meetsExpectation } from '../../src/verify/expect.js';
import { nagiosLine } from '../../src/verify/nagios.js';
import { writePromFile } from '../../src/verify/prom.js';

function result(name: string, ok: boolean, over: Partial<RestoreTestResult> = {}): RestoreTestResult {
  return {
    name, kind: 'pitr', ok, probeStatus: 'usable', problems: [], checked: 'restored',
    recoveryPoint: { time: '2026-11-29T02:00:00Z', lsn: '0/1000000' }, sizeBytes: 1234, tables: [{ name: 'public.t', rows: 3 }],
    checks: [{ check: 'restore', ok: true, message: '' }, { check: 'tables', ok, message: ok ? '' : 'Missing public.u' }],
    durationMs: 4500, notes: [], ...over,
  };
}

type Family = { name: string; type: string; metrics: { labels?: Record<string, string>; value: string }[] };

describe('--prom-file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prom-'));
  const file = join(dir, 'undrop.prom');

  it('parses with a Prometheus text-format parser and carries every metric', () => {
    writePromFile(file, [result('wal', true), result('nightly', false, { kind: 'dump', sizeBytes: null })], new Date('2026-11-29T03:00:00Z'));
    const families = parsePrometheusTextFormat(readFileSync(file, 'utf8')) as Family[];
    const by = Object.fromEntries(families.map((f) => [f.name, f]));
    for (const n of ['undrop_source_usable', 'undrop_source_recovery_point_age_seconds', 'undrop_source_size_bytes', 'undrop_verify_duration_seconds', 'undrop_verify_last_success_timestamp_seconds', 'undrop_verify_check_failed']) {
      expect(by[n], n).toBeDefined();
      expect(by[n]!.type).toBe('GAUGE');
    }
    const v = (n: string, labels: Record<string, string>) => by[n]!.metrics.find((m) => Object.entries(labels).every(([k, x]) => m.labels?.[k] === x))?.value;
    expect(v('undrop_source_usable', { source: 'wal' })).toBe('1');
    expect(v('undrop_source_usable', { source: 'nightly' })).toBe('0');
    expect(v('undrop_source_recovery_point_age_seconds', { source: 'wal' })).toBe('3600');
    expect(v('undrop_verify_duration_seconds', { source: 'wal' })).toBe('4.5');
    expect(v('undrop_verify_check_failed', { source: 'nightly', check: 'tables' })).toBe('1');
    expect(v('undrop_verify_check_failed', { source: 'wal', check: 'tables' })).toBe('0');
    expect(v('undrop_verify_last_success_timestamp_seconds', { source: 'wal' })).toBe(String(Date.parse('2026-11-29T03:00:00Z') / 1000));
    expect(v('undrop_verify_last_success_timestamp_seconds', { source: 'nightly' })).toBeUndefined();
  });

  it('keeps the last success of a source that fails the next night, and leaves no temporary file', () => {
    writePromFile(file, [result('wal', false), result('nightly', true)], new Date('2026-11-30T03:00:00Z'));
    const families = parsePrometheusTextFormat(readFileSync(file, 'utf8')) as Family[];
    const last = families.find((f) => f.name === 'undrop_verify_last_success_timestamp_seconds')!;
    const of = (s: string) => last.metrics.find((m) => m.labels?.source === s)?.value;
    expect(of('wal')).toBe(String(Date.parse('2026-11-29T03:00:00Z') / 1000));
    expect(of('nightly')).toBe(String(Date.parse('2026-11-30T03:00:00Z') / 1000));
    expect(readdirSync(dir)).toEqual(['undrop.prom']);
  });

  it('a garbled previous file is not fatal', () => {
    writeFileSync(file, 'not prometheus at all {');
    writePromFile(file, [result('wal', false)]);
    expect(() => parsePrometheusTextFormat(readFileSync(file, 'utf8'))).not.toThrow();
  });
});

describe('--format nagios', () => {
  it('OK with exit 0 when every source passed', () => {
    const n = nagiosLine([result('wal', true), result('nightly', true)]);
    expect(n.exitCode).toBe(0);
    expect(n.line).toMatch(/^UNDROP VERIFY OK - 2 source\(s\) passed\|'wal_seconds'=4\.5s 'nightly_seconds'=4\.5s$/);
    expect(n.line).not.toContain('\n');
  });
  it('CRITICAL with exit 2 naming the source and the failed check', () => {
    const n = nagiosLine([result('wal', true), result('nightly', false)]);
    expect(n.exitCode).toBe(2);
    expect(n.line).toMatch(/^UNDROP VERIFY CRITICAL - 1 of 2 source\(s\) failed \(nightly: tables\)\|/);
  });
  it('UNKNOWN with exit 3 when there is nothing to verify', () => {
    expect(nagiosLine([]).exitCode).toBe(3);
  });
});

describe('suite logic', () => {
  it('row tolerance grows with the source age and never drops below slack', () => {
    expect(allowedRowDifference(1000, 0, 0.25, 0.1, 100)).toBe(250);
    expect(allowedRowDifference(1000, 2 * 86_400_000, 0.25, 0.1, 100)).toBe(450);
    expect(allowedRowDifference(10, 0, 0.25, 0.1, 100)).toBe(100);
  });
  it('expectations: a value, a range, true', () => {
    expect(meetsExpectation('42', 42)).toBe(true);
    expect(meetsExpectation('41', 42)).toBe(false);
    expect(meetsExpectation(true, true)).toBe(true);
    expect(meetsExpectation(false, true)).toBe(false);
    expect(meetsExpectation('5', { min: 1 })).toBe(true);
    expect(meetsExpectation('0', { min: 1 })).toBe(false);
    expect(meetsExpectation(null, { max: 3 })).toBe(false);
    expect(meetsExpectation('EUR', 'EUR')).toBe(true);
  });
  it('the verify block and the new thresholds validate; mistakes are named', () => {
    const inv = validateInventory({
      verify: { tables: 'all', rows: { tolerance: '20%' }, queries: [{ sql: 'select true', expect: true }], amcheck: true },
      sources: [{ name: 'd', kind: 'dump', paths: ['/x/*.dump'], min_rows: 10, max_verify_duration: '2h', max_loss_window: '30min', verify: { checksums: ['public.t'] } }],
    }, '/tmp/undrop.yaml');
    expect(inv.verify?.amcheck).toBe(true);
    expect(inv.sources[0]!.verify?.checksums).toEqual(['public.t']);
    expect(() => validateInventory({ verify: { rows: { tolerance: 'lots' } }, sources: [{ name: 'd', kind: 'dump', paths: ['/x'], max_loss_window: 'soon' }] }, '/tmp/undrop.yaml'))
      .toThrow(/problem/);
  });
});
