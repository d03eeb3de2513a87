// CI's smoke of `npm run bench`: the end-to-end bench at its smallest scale,
// one run per side (undrop, its control, manual), every source kind. Correctness only (rows back equal to
// what the manual procedure restored and to the lab's truth), never timings.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import type { E2eResult } from '../../src/bench/e2e/index.js';
import { labDown } from '../../src/lab/down.js';
import { labLayout } from '../../src/lab/layout.js';
import { testWorkDir } from '../helpers.js';

const root = mkdtempSync(join(testWorkDir(), 'bench-'));
chmodSync(root, 0o755);
const dir = join(root, 'lab');
const out = join(root, 'results');

afterAll(async () => {
  if (existsSync(dir)) await labDown(labLayout(dir)).catch(() => {});
  if (!existsSync(dir)) rmSync(root, { recursive: true, force: true });
});

describe('npm run bench (smoke scale)', () => {
  it('runs undrop, the manual procedure and the floor for every source kind; rows equal; writes Markdown, JSON and SVG', async () => {
    // The bench pauses the replica before the incident, so its manual dump never meets the lock trap.
    const r = await execa(process.execPath, [resolve('dist/bench/main.js'), '--scale', 'smoke', '--out', out, '--dir', dir], { reject: false, stdin: 'ignore' });
    expect(r.exitCode, String(r.stderr).slice(-3000)).toBe(0);
    const doc = JSON.parse(readFileSync(join(out, 'e2e-smoke.json'), 'utf8')) as E2eResult;
    expect(doc.cases.map((c) => c.kind)).toEqual(['delayed-replica', 'pitr', 'pgbackrest', 'snapshot', 'dump']);
    for (const c of doc.cases) {
      expect(c.rows, c.label).toBeGreaterThan(6000 * 0.8);
      expect(c.checksumsEqualManual, `${c.label}: undrop's rows equal the manual procedure's`).toBe(true);
      expect(c.undrop.medianMs).toBeGreaterThan(0);
      expect(c.manual.medianMs).toBeGreaterThan(0);
      // the control (hashing off) ran beside undrop, and brought the same rows back
      expect(c.control?.medianMs, c.label).toBeGreaterThan(0);
      expect(c.verifyCost, c.label).toEqual(expect.any(Number));
    }
    // The replica, paused before the incident with nothing left to apply, holds exactly the pre-incident rows too.
    for (const c of doc.cases.filter((x) => ['delayed-replica', 'pitr', 'pgbackrest'].includes(x.kind))) expect(c.checksumsEqualTruth, c.label).toBe(true);
    expect(doc.machine).toMatchObject({ cores: expect.any(Number), loadAvgAtStart: expect.any(Array) });
    expect(readFileSync(join(out, 'e2e-smoke.md'), 'utf8')).toContain('| pgbackrest |');
    expect(readFileSync(join(out, 'e2e-smoke.svg'), 'utf8')).toMatch(/^<svg/);
    expect(existsSync(dir)).toBe(false); // the bench's lab is removed
  }, 1_200_000);
});
