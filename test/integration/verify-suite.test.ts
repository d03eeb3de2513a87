// `undrop verify` as the nightly restore drill, on a real happy lab: every
// source kind passes; the validation suite catches a failing user query, a
// dump that restores but lacks a table, a base backup with a corrupted data
// file; checksums at a restore point verify creates on production match
// exactly; the Prometheus file and the Nagios line come out as a scraper
// and a Nagios server read them.
import { chmodSync, cpSync, mkdirSync, openSync, readFileSync, truncateSync, writeFileSync, closeSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { chownForServer } from '../../src/postgres/os-user.js';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { labLayout } from '../../src/lab/layout.js';
import { readState } from '../../src/lab/state.js';
import { withClient } from '../../src/postgres/connect.js';
import { resolveConnParams } from '../../src/postgres/conninfo.js';
import { findBinaries } from '../../src/postgres/binaries.js';
import { undrop } from '../cli.js';
import { useLab } from '../helpers/lab.js';

const { root, dir } = useLab({ name: 'vs', scale: 2000, scenario: 'happy', incident: false, timeoutMs: 400_000 });
let inv: { production: { dsn: string }; sources: Record<string, unknown>[]; [k: string]: unknown };

/** An inventory beside the lab's, with changes. */
function config(name: string, change: (doc: typeof inv) => void): string {
  const doc = structuredClone(inv);
  change(doc);
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, YAML.stringify(doc));
  return file;
}

interface Source { name: string; ok: boolean; checked: string; recoveryPoint: { time: string; lsn: string | null } | null; tables: { name: string; rows: number | null }[]; checks: { check: string; ok: boolean; message: string }[] }
const byName = (stdout: string): Record<string, Source> => Object.fromEntries(JSON.parse(stdout).sources.map((s: Source) => [s.name, s]));
const failed = (s: Source) => s.checks.filter((c) => !c.ok).map((c) => c.check);

beforeAll(() => {
  inv = YAML.parse(readFileSync(join(dir, 'undrop.yaml'), 'utf8'));
});

describe('undrop verify on the happy lab', () => {
  it('passes for every source kind; the replica is probed, not restored, its tables counted', async () => {
    const prom = join(root, 'undrop.prom');
    const t0 = Date.now();
    const r = await undrop(['--json', '-c', join(dir, 'undrop.yaml'), 'verify', '--strict', '--prom-file', prom, '--max-parallel', '2']);
    console.log(`verify of every source of a default lab: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const s = byName(r.stdout);
    // On failure, name the source and check that failed (the progress lines alone say nothing).
    expect(r.exitCode, Object.values(s).filter((x) => !x.ok).map((x) => `${x.name}: ${x.checks.filter((c) => !c.ok).map((c) => `${c.check}: ${c.message}`).join(" | ")}`).join('; ') || r.stderr.slice(-2000)).toBe(0);
    expect(Object.keys(s).sort()).toEqual(['backrest', 'delayed-replica', 'dumps', 'pitr', 'snapshot']);
    for (const x of Object.values(s)) {
      expect(x.ok, `${x.name}: ${failed(x)}`).toBe(true);
      expect(x.checks.find((c) => c.check === 'tables')?.ok).toBe(true);
      expect(x.tables.find((t) => t.name === 'public.shipments')?.rows).toBeGreaterThan(0);
    }
    expect(s['delayed-replica']!.checked).toBe('probed');
    expect(s['delayed-replica']!.checks.some((c) => c.check === 'restore')).toBe(false);
    // pgBackRest: the newest WAL the repository holds, not the end of its backup.
    // (Before: recovery_target=immediate, "recovery stopping after reaching consistency".)
    expect((s.backrest!.recoveryPoint as { basis?: string }).basis).not.toMatch(/consistency/);
    expect(Date.parse(s.backrest!.recoveryPoint!.time)).toBeGreaterThanOrEqual(Date.parse(s.snapshot!.recoveryPoint!.time));
    expect(s.backrest!.recoveryPoint!.lsn).not.toBe(null);
    // The Prometheus file, read by a real parser.
    const families = parsePrometheusTextFormat(readFileSync(prom, 'utf8')) as { name: string; metrics: { labels: Record<string, string>; value: string }[] }[];
    const usable = families.find((f) => f.name === 'undrop_source_usable')!;
    expect(usable.metrics.map((m) => m.value)).toEqual(['1', '1', '1', '1', '1']);
    expect(families.find((f) => f.name === 'undrop_verify_last_success_timestamp_seconds')!.metrics).toHaveLength(5);
    // Nagios: one line, exit 0.
    const n = await undrop(['-c', join(dir, 'undrop.yaml'), 'verify', '--source', 'snapshot', '--format', 'nagios']);
    expect(n.exitCode).toBe(0);
    expect(n.stdout).toMatch(/^UNDROP VERIFY OK - 1 source\(s\) passed\|'snapshot_seconds'=[\d.]+s$/);
  }, 600_000);

  it('a user query that returns false fails the source (exit 3; Nagios CRITICAL, exit 2)', async () => {
    const file = config('query', (d) => {
      d.verify = { queries: [{ name: 'shipments-exist', sql: 'select count(*) from shipments', expect: { min: 1 } }, { name: 'no-negative-invoices', sql: 'select count(*) > 1e9 from invoices', expect: true }] };
    });
    const r = await undrop(['--json', '-c', file, 'verify', '--source', 'snapshot']);
    expect(r.exitCode, r.stderr.slice(-1500)).toBe(3);
    const s = byName(r.stdout).snapshot!;
    expect(failed(s)).toEqual(['query:no-negative-invoices']);
    expect(s.checks.find((c) => c.check === 'query:shipments-exist')?.ok).toBe(true);
    const n = await undrop(['-c', file, 'verify', '--source', 'snapshot', '--format', 'nagios']);
    expect(n.exitCode).toBe(2);
    expect(n.stdout).toContain('UNDROP VERIFY CRITICAL - 1 of 1 source(s) failed (snapshot: query:no-negative-invoices)');
  }, 300_000);

  it('thresholds: max_verify_duration, min_rows and max_loss_window fail verify; the last two also fail probe --strict', async () => {
    const file = config('thresholds', (d) => {
      const snap = d.sources.find((x) => x.kind === 'snapshot')!;
      Object.assign(snap, { max_verify_duration: '1ms', min_rows: 1_000_000_000, max_loss_window: '1s' });
    });
    const r = await undrop(['--json', '-c', file, 'verify', '--source', 'snapshot']);
    expect(r.exitCode, r.stderr.slice(-1500)).toBe(3);
    expect(failed(byName(r.stdout).snapshot!).sort()).toEqual(['duration', 'loss_window', 'min_rows', 'probe']);
    const p = await undrop(['--json', '-c', file, 'probe', '--strict', '--source', 'snapshot']);
    expect(p.exitCode, p.stderr.slice(-1500)).toBe(3);
    const codes = JSON.parse(p.stdout).sources[0].findings.map((f: { code: string }) => f.code);
    expect(codes).toContain('LOSS_WINDOW');
  }, 300_000);

  it('refuses a restore that would not fit in the work directory, with the figures, before writing anything', async () => {
    const big = join(root, 'big-dumps');
    mkdirSync(big);
    chmodSync(big, 0o755);
    const state = (await readState(labLayout(dir)))!;
    const dump = state.dumps.filter((x) => x.format === 'custom').at(-1)!;
    cpSync(dump.path, join(big, 'shipping.dump'));
    truncateSync(join(big, 'shipping.dump'), 4 * 1024 ** 4); // sparse: 4 TiB on paper, a few MB on disk
    const file = config('big', (d) => {
      d.sources = [{ name: 'big', kind: 'dump', paths: [join(big, '*.dump')] }];
    });
    const r = await undrop(['--json', '-c', file, 'verify']);
    expect(r.exitCode, r.stderr.slice(-1500)).toBe(3);
    const s = byName(r.stdout).big!;
    expect(s.checks.some((c) => c.check === 'restore')).toBe(false);
    expect(failed(s)).toContain('disk');
    expect(s.checks.find((c) => c.check === 'disk')!.message).toMatch(/needs 4\.\d TB .* free/);
  }, 300_000);

  it('a dump that restores but lacks a table fails the table check', async () => {
    const dumps = join(root, 'partial-dumps');
    mkdirSync(dumps);
    chmodSync(dumps, 0o755);
    const bin = await findBinaries(15);
    const prod = resolveConnParams(inv.production.dsn);
    await execa(bin.path('pg_dump'), ['-Fc', '-T', 'public.carriers', '-f', join(dumps, 'shipping.dump'), '-h', prod.host!, '-p', String(prod.port), '-U', prod.user!, prod.database!]);
    const file = config('partial', (d) => {
      d.sources = [{ name: 'partial', kind: 'dump', paths: [join(dumps, '*.dump')] }];
    });
    const r = await undrop(['--json', '-c', file, 'verify']);
    expect(r.exitCode, r.stderr.slice(-1500)).toBe(3);
    const s = byName(r.stdout).partial!;
    expect(s.checks.find((c) => c.check === 'restore')?.ok).toBe(true);
    expect(failed(s)).toEqual(['tables']);
    expect(s.checks.find((c) => c.check === 'tables')!.message).toContain('public.carriers');
  }, 300_000);

  it('a base backup with one data file corrupted fails', async () => {
    const state = (await readState(labLayout(dir)))!;
    const plain = state.baseBackups.find((b) => b.format === 'plain')!;
    const base = join(root, 'corrupt-base');
    mkdirSync(base);
    cpSync(plain.path, join(base, 'backup'), { recursive: true });
    const rel = await withClient(resolveConnParams(inv.production.dsn), async (c) => (await c.query<{ p: string }>("select pg_relation_filepath('shipments') as p")).rows[0]!.p);
    const fd = openSync(join(base, 'backup', rel), 'r+');
    writeSync(fd, Buffer.alloc(64, 0xa5), 0, 64, 8192 + 512);
    closeSync(fd);
    await chownForServer(base);
    const pitr = inv.sources.find((x) => x.kind === 'pitr')!;
    const file = config('corrupt', (d) => {
      d.sources = [{ ...pitr, name: 'corrupt', base_backups: base }];
    });
    const r = await undrop(['--json', '-c', file, 'verify']);
    expect(r.exitCode, r.stderr.slice(-1500)).toBe(3);
    const s = byName(r.stdout).corrupt!;
    expect(s.ok).toBe(false);
    console.log(`corrupted base backup: ${JSON.stringify(s.checks.filter((c) => !c.ok))}`);
    expect(JSON.stringify(s)).toMatch(/BACKUP_VERIFY_FAILED|checksum|corrupt/i);
  }, 300_000);

  it('checksums at a restore point verify creates on production match exactly', async () => {
    const file = config('points', (d) => {
      d.verify = { checksums: ['public.invoices', 'public.carriers'], amcheck: true };
    });
    const r = await undrop(['--json', '-c', file, 'verify', '--source', 'pitr']);
    expect(r.exitCode, r.stderr.slice(-1500)).toBe(0);
    const s = byName(r.stdout).pitr!;
    const sum = s.checks.find((c) => c.check === 'checksum')!;
    expect(sum.ok, sum.message).toBe(true);
    expect(sum.message).toMatch(/2 table\(s\) equal to production at restore point undrop_verify_/);
    expect(s.checks.find((c) => c.check === 'amcheck')?.ok).toBe(true);
    // The restore point is really in production's WAL: the restore stopped there, not at the newest state.
    const name = /restore point (undrop_verify_\S+)/.exec(sum.message)![1]!;
    expect(name).toMatch(/^undrop_verify_\d{8}T\d{9}Z$/);
  }, 300_000);
});
