import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { readFileSync } from 'node:fs';
import { manifestWalRange } from '../../src/lab/backups.js';
import { scaleCounts } from '../../src/lab/dataset.js';
import { chooseGapSegment, recentNights } from '../../src/lab/defects.js';
import { parseXactRecords } from '../../src/lab/incident.js';
import { archiveCommand, fileStamp, labLayout, socketPathFits } from '../../src/lab/layout.js';
import { delayMs, parseScenario } from '../../src/lab/scenarios.js';
import { scenariosDir } from '../../src/lab/scenario-names.js';
import { parseScale } from '../../src/lab/scale.js';

describe('lab layout', () => {
  it('keeps the socket dir inside the lab only when the socket path fits', () => {
    expect(labLayout('/tmp/lab').preferredSocketDir).toBe('/tmp/lab/sock');
    expect(labLayout('/tmp/' + 'x'.repeat(90)).preferredSocketDir).toBeUndefined();
    expect(socketPathFits('/tmp/s')).toBe(true);
  });

  it('archive_command never overwrites, never leaves half-written segments, then pushes to pgBackRest', () => {
    const plain = archiveCommand('/lab/archive');
    expect(plain).toBe('if test ! -f /lab/archive/%f; then cp %p /lab/archive/%f.tmp && mv /lab/archive/%f.tmp /lab/archive/%f; else cmp -s %p /lab/archive/%f; fi');
    const both = archiveCommand('/my lab/archive', { config: '/my lab/pgbackrest.conf', stanza: 'lab' });
    expect(both).toContain("test ! -f '/my lab/archive'/%f");
    expect(both.endsWith("&& pgbackrest --config='/my lab/pgbackrest.conf' --stanza=lab archive-push %p")).toBe(true);
  });

  it('stamps are sortable and filename-safe', () => {
    expect(fileStamp(new Date('2026-11-25T01:30:05.123Z'))).toBe('20261125T013005Z');
  });
});

describe('scenarios', () => {
  it('every scenario file is valid', () => {
    const files = readdirSync(scenariosDir()).filter((f) => f.endsWith('.yaml'));
    expect(files.map((f) => f.slice(0, -5)).sort()).toEqual(expect.arrayContaining(['dump-only', 'happy', 'replica-too-late', 'seed', 'wal-gap']));
    for (const f of files) {
      const s = parseScenario(YAML.parse(readFileSync(join(scenariosDir(), f), 'utf8')), f);
      expect(s.name).toBe(f.slice(0, -5));
      expect(s.briefing.length).toBeGreaterThan(50);
    }
  });

  it('rejects inconsistent scenarios', () => {
    const doc = YAML.parse(readFileSync(join(scenariosDir(), 'dump-only.yaml'), 'utf8'));
    doc.defects = [{ kind: 'wal-gap', from: ['archive'] }];
    expect(() => parseScenario(doc, 'x')).toThrow(/not consistent/);
    doc.defects = [{ kind: 'nonsense' }];
    expect(() => parseScenario(doc, 'x')).toThrow(/not valid/);
  });

  it('parses delays, including 0', () => {
    expect(delayMs('0')).toBe(0);
    expect(delayMs('10min')).toBe(600_000);
    expect(delayMs('soon')).toBeUndefined();
  });
});

describe('lab logic', () => {
  it('scale counts: 15 million rows at --scale 5000000', () => {
    const c = scaleCounts(5_000_000);
    expect(c.shipments + c.events + c.invoices).toBe(15_000_000);
  });

  it('refuses silly scales with a usage error', () => {
    expect(() => parseScale(5)).toThrow(/between 100/);
    expect(parseScale(undefined)).toBe(100_000);
  });

  it('nightly dump times are the most recent 02:00 UTC, newest first', () => {
    const n = recentNights(new Date('2026-11-25T01:00:00Z'), 2);
    expect(n.map((d) => d.toISOString())).toEqual(['2026-11-24T02:00:00.000Z', '2026-11-23T02:00:00.000Z']);
    expect(recentNights(new Date('2026-11-25T03:00:00Z'), 1)[0]!.toISOString()).toBe('2026-11-25T02:00:00.000Z');
  });

  it('picks a gap segment strictly between the backup and the incident', () => {
    const segs = ['000000010000000000000003', '000000010000000000000004', '000000010000000000000005', '000000010000000000000006', '000000010000000000000005.00000028.backup'];
    expect(chooseGapSegment(segs, '000000010000000000000003', '000000010000000000000006')).toBe('000000010000000000000005');
    expect(chooseGapSegment(segs, '000000010000000000000005', '000000010000000000000006')).toBeUndefined();
  });

  it('reads the first record and the COMMIT of a transaction from pg_waldump output', () => {
    const out = [
      'rmgr: Standby     len (rec/tot):     42/    42, tx:      29519, lsn: 0/165DEEE8, prev 0/165DEEB0, desc: LOCK xid 29519 db 16385 rel 16396',
      'rmgr: Transaction len (rec/tot):  11149/ 11149, tx:      29519, lsn: 0/16636A70, prev 0/166369B0, desc: COMMIT 2026-11-25 01:42:48.715829 UTC; rels: base/16385/16412',
    ].join('\n');
    expect(parseXactRecords(out)).toEqual({ firstLsn: '0/165DEEE8', commitLsn: '0/16636A70', commitTime: '2026-11-25T01:42:48.715Z' });
    expect(parseXactRecords('rmgr: Standby len, tx: 5, lsn: 0/0B0031B0, prev').firstLsn).toBe('0/B0031B0');
  });

  it('reads WAL-Ranges from a backup manifest', () => {
    const m = JSON.stringify({ 'WAL-Ranges': [{ Timeline: 1, 'Start-LSN': '0/9000028', 'End-LSN': '0/9000100' }] });
    expect(manifestWalRange(m)).toEqual({ startLsn: '0/9000028', endLsn: '0/9000100' });
    expect(manifestWalRange('not json')).toBeUndefined();
  });

});
