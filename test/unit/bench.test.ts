import { describe, expect, it } from 'vitest';
import type { E2eResult } from '../../src/bench/e2e/index.js';
import { manualScript, parsePhases, type ManualContext } from '../../src/bench/e2e/manual.js';
import { e2eMarkdown, e2eSvg } from '../../src/bench/e2e/report.js';
import { scaleOf } from '../../src/bench/e2e/scales.js';

const ctx: ManualContext = {
  kind: 'pitr',
  dir: '/w/m-pitr-1',
  port: 5999,
  bindir: '/usr/lib/postgresql/15/bin',
  database: 'shipping',
  tables: ['public.shipments', "public.o'dd"],
  xid: '1234',
  production: { socketDir: '/s', port: 5432, user: 'postgres', database: 'bench_manual' },
  plainBackup: '/b/plain',
  walArchive: '/a',
};

describe('end-to-end bench: the manual procedure', () => {
  it('uses the same exclusive xid target, never archives, and quotes what it is given', () => {
    const s = manualScript(ctx);
    // shell-quoted: 'recovery_target_xid = '\''1234'\'''
    expect(s).toContain("'recovery_target_xid = '\\''1234'\\'''");
    expect(s).toContain('recovery_target_inclusive = off');
    expect(s).toContain('archive_mode = off');
    expect(s).toContain("cp -a '/b/plain'/.");
    expect(s).toContain("-t 'public.o'\\''dd'");
    expect(s).toMatch(/pg_dump" -Fc .* \| "\$B\/pg_restore"/);
    const br = manualScript({ ...ctx, kind: 'pgbackrest', pgbackrest: { config: '/c.conf', stanza: 'main' } });
    expect(br).toContain("--type=xid --target='1234' --target-exclusive --target-action=promote --archive-mode=off");
    const rep = manualScript({ ...ctx, kind: 'delayed-replica', replica: { socketDir: '/s', port: 6000, user: 'postgres' } });
    expect(rep).toContain('pg_wal_replay_pause()');
    expect(rep).not.toContain('pg_ctl');
  });
  it('reads the phases from the markers', () => {
    expect(parsePhases('@@start 1000\nnoise\n@@copied 1500\n@@ready 4000\n@@rows 4600\n')).toEqual({ copyMs: 500, replayMs: 2500, rowsMs: 600, totalMs: 3600 });
    expect(() => parsePhases('@@start 1\n@@copied 2\n')).toThrow(/@@ready/);
  });
  it('knows its scales', () => {
    expect(scaleOf('default').scale * 3).toBeGreaterThanOrEqual(1_000_000);
    expect(scaleOf('seed').scale * 3).toBeGreaterThanOrEqual(15_000_000);
    // lost rows ~145 B each with indexes, other rows ~1.2 kB: the lost tables about a tenth of the cluster
    const wide = scaleOf('wide');
    expect((wide.scale * 3 * 145) / (wide.scale * 3 * 145 + wide.otherRows * 1200)).toBeLessThan(0.1);
    // the seed's rows at about a tenth of the cluster, pgBackRest only (its archive trimmed to fit the disk)
    const tenth = scaleOf('seed-tenth');
    expect(tenth.scale * 3).toBeGreaterThanOrEqual(15_000_000);
    expect((tenth.scale * 3 * 148) / (tenth.scale * 3 * 148 + tenth.otherRows * 1050)).toBeLessThan(0.1);
    expect(tenth).toMatchObject({ kinds: ['pgbackrest'], trimArchive: true });
    expect(() => scaleOf('huge')).toThrow(/not one of/);
  });
});

describe('end-to-end bench: the report', () => {
  const r: E2eResult = {
    scale: 2000,
    rowsLost: 6000,
    otherRows: 2000,
    runs: 1,
    labUpMs: 40000,
    machine: { cores: 2, cpu: 'cpu', memoryGb: 8, postgres: 'PostgreSQL 15', pgbackrest: 'pgBackRest 2.45', node: 'v20', kernel: 'Linux', commit: 'abc', at: 'now', loadAvgAtStart: [1], loadAvgAtEnd: [2] },
    cases: [
      {
        kind: 'pitr', label: 'pitr', runs: 1,
        undrop: { medianMs: 4000, runsMs: [4000], verifyMedianMs: 200, steps: { materialize: 2000, 'copy back': 1000 } },
        manual: { medianMs: 5000, runsMs: [5000], phases: { copyMs: 1000, replayMs: 1000, rowsMs: 3000, totalMs: 5000 } },
        floorMs: 2500, floorParts: { copyMs: 1000, replayMs: 1000, rowsMs: 500 },
        control: { medianMs: 3600, runsMs: [3600] }, verifyCost: 0.1,
        ratioManual: 0.8, ratioFloor: 1.6, verifyShare: 0.05, rows: 6000, checksumsEqualTruth: true, checksumsEqualManual: true, loadAvg: [1.5],
      },
      {
        kind: 'dump', label: 'dump <x>', runs: 1,
        undrop: { medianMs: 3000, runsMs: [3000], verifyMedianMs: 100, steps: {} },
        manual: { medianMs: 1000, runsMs: [1000], phases: { copyMs: 0, replayMs: 0, rowsMs: 1000, totalMs: 1000 } },
        floorMs: null, floorParts: null,
        ratioManual: 3, ratioFloor: null, verifyShare: 0.03, rows: 6000, checksumsEqualTruth: true, checksumsEqualManual: false, loadAvg: [1.5],
      },
    ],
  };
  it('tables every source with its ratios, and says when rows differ', () => {
    const md = e2eMarkdown(r);
    expect(md).toContain('| pitr | 4.00 s | 5.00 s | 2.50 s | 0.80× | 1.60× | 10 % (3.60 s) | 5 % | yes | yes |');
    // no control run (results recorded before, or --skip-control): the cost is not claimed
    expect(md).toContain('| dump <x> | 3.00 s | 1.00 s | — | 3.00× | — | — | 3 % | **no** | n/a (older state) |');
    expect(md).toContain('materialize 2.00 s, copy back 1.00 s');
    expect(md).not.toContain('of the cluster');
    expect(e2eMarkdown({ ...r, notes: ['The archive was trimmed.'] })).toContain('\nThe archive was trimmed.\n');
  });
  it("states the lost tables' share of the cluster when recorded", () => {
    const md = e2eMarkdown({ ...r, composition: { lostBytes: 430e6, clusterBytes: 5.2e9 } });
    expect(md).toContain("The lost tables, with their TOAST and indexes, are 430 MB of the cluster's 5.20 GB (8.3 %, before the incident).");
  });
  it('draws one bar per side and escapes labels', () => {
    const svg = e2eSvg(r);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<rect /g)!.length).toBe(3 + 2 + 3); // pitr 3 bars, dump 2 (no floor), legend 3
    expect(svg).toContain('dump &lt;x>');
  });
});
