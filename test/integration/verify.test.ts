// `undrop verify` catches the short-retention scenario's silent failure before any incident: the
// newest "dumps" are error messages, so the dump source is unhealthy (exit 3)
// although an old dump still restores; the other sources really restore.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { undrop } from '../cli.js';
import { useLab } from '../helpers/lab.js';

const { dir } = useLab({ name: 'verify', scale: 2000, scenario: 'short-retention', incident: false, timeoutMs: 300_000 });

describe('undrop verify on the short-retention scenario', () => {
  it('restores every source, and exits 3 because the newest dumps are error messages', async () => {
    const r = await undrop(['--json', '-c', join(dir, 'undrop.yaml'), 'verify']);
    expect(r.exitCode, r.stderr.slice(-1500)).toBe(3);
    const doc = JSON.parse(r.stdout);
    expect(doc.healthy).toBe(false);
    const byName = Object.fromEntries(doc.sources.map((s: { name: string }) => [s.name, s]));
    expect(byName.dumps).toMatchObject({ ok: false, checked: 'restored', probeStatus: 'degraded' });
    expect(byName.dumps.problems.map((p: { code: string }) => p.code)).toContain('DUMP_ERROR_TEXT');
    // The failed check is the probe's (the newest dumps are error text); the old dump itself restored and passed the suite.
    expect(byName.dumps.checks.filter((c: { ok: boolean }) => !c.ok).map((c: { check: string }) => c.check)).toEqual(['probe']);
    expect(byName.dumps.checks.find((c: { check: string }) => c.check === 'restore').ok).toBe(true);
    expect(byName.dumps.tables.find((t: { name: string }) => t.name === 'public.shipments').rows).toBeGreaterThan(0);
    expect(byName.snapshot).toMatchObject({ ok: true, checked: 'restored' });
    expect(byName.snapshot.tables.length).toBeGreaterThanOrEqual(3);
    expect(byName.pitr.error).toBeUndefined();
    expect(byName.pitr.tables.find((t: { name: string }) => t.name === 'public.shipments').rows).toBeGreaterThan(0);
  });
});
