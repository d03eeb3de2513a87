// The replay guard reading locate's scan instead of the WAL again: the
// detector keeps every CREATE TABLESPACE (fast path included), and a scan
// counts only when one stretch it read holds the whole replay range.
import { describe, expect, it } from 'vitest';
import { EventDetector } from '../../src/recovery/locate/detector.js';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PgBinaries } from '../../src/postgres/binaries.js';
import { type TablespaceScan, assertFetchedReplayLeavesTablespacesAlone, createsFromScan, ifSettled, sameSegments } from '../../src/postgres/replay-guard.js';

const lines = [
  'rmgr: Heap        len (rec/tot):     59/    59, tx:        749, lsn: 0/0B0000D8, prev 0/0B0000A0, desc: INSERT off 2 flags 0x00, blkref #0: rel 1663/5/16384 blk 0',
  'rmgr: Tablespace  len (rec/tot):     39/    39, tx:        750, lsn: 0/0B000110, prev 0/0B0000D8, desc: CREATE 16390 "/srv/pg ts/x"',
  'rmgr: Tablespace  len (rec/tot):     30/    30, tx:        760, lsn: 0/0B000200, prev 0/0B000110, desc: DROP 16391',
  'rmgr: Transaction len (rec/tot):     34/    34, tx:        750, lsn: 0/0B000240, prev 0/0B000200, desc: COMMIT 2026-11-25 01:42:48.900323 UTC',
];

describe('replay guard on a shared WAL scan', () => {
  it('the detector keeps CREATE TABLESPACE records, through the byte fast path too', () => {
    const d = new EventDetector(() => {}, { threshold: 1000 });
    const buf = Buffer.from(`${lines.join('\n')}\n`, 'latin1');
    d.pushLines(buf, 0, buf.length);
    expect(d.tablespaceCreates).toEqual([{ oid: '16390', path: '/srv/pg ts/x', lsn: '0/B000110' }]);
  });

  const scan: TablespaceScan = { source: 'pitr', timeline: 1, spans: [{ from: '0/A000000', to: '0/C000100' }, { from: '0/E000000', to: '0/F000000' }], creates: [{ oid: '16390', path: '/srv/ts', lsn: '0/B000110' }] };

  it('uses the scan only when one stretch holds the whole range of the same source and timeline', () => {
    expect(createsFromScan(scan, { source: 'pitr', timeline: 1, startLsn: '0/A000028', endLsn: '0/C000100' })).toEqual([{ oid: '16390', path: '/srv/ts', lsn: '0/B000110' }]);
    // starts before the stretch, ends after it, or straddles the gap: read the WAL again
    expect(createsFromScan(scan, { source: 'pitr', timeline: 1, startLsn: '0/9FFFFFF', endLsn: '0/B000000' })).toBeUndefined();
    expect(createsFromScan(scan, { source: 'pitr', timeline: 1, startLsn: '0/A000028', endLsn: '0/C000101' })).toBeUndefined();
    expect(createsFromScan(scan, { source: 'pitr', timeline: 1, startLsn: '0/B000000', endLsn: '0/E000100' })).toBeUndefined();
    // another source's WAL, another timeline, no end (to the end of the archive), no scan
    expect(createsFromScan(scan, { source: 'backrest', timeline: 1, startLsn: '0/A000028', endLsn: '0/B000000' })).toBeUndefined();
    expect(createsFromScan(scan, { source: 'pitr', timeline: 2, startLsn: '0/A000028', endLsn: '0/B000000' })).toBeUndefined();
    expect(createsFromScan(scan, { source: 'pitr', timeline: 1, startLsn: '0/A000028' })).toBeUndefined();
    expect(createsFromScan(undefined, { source: 'pitr', startLsn: '0/A000028', endLsn: '0/B000000' })).toBeUndefined();
  });

  it('keeps the CREATEs inside the range, boundaries included', () => {
    expect(createsFromScan(scan, { source: 'pitr', timeline: 1, startLsn: '0/B000110', endLsn: '0/B000110' })).toHaveLength(1);
    expect(createsFromScan(scan, { source: 'pitr', timeline: 1, startLsn: '0/B000111', endLsn: '0/C000000' })).toEqual([]);
    expect(createsFromScan(scan, { source: 'pitr', timeline: 1, startLsn: '0/A000000', endLsn: '0/B00010F' })).toEqual([]);
  });
});

describe('the guard never waits for the other scan', () => {
  it('takes a finished scan, and none while it still runs or when it failed', async () => {
    const done: TablespaceScan = { timeline: 1, spans: [], creates: [] };
    expect(await ifSettled(Promise.resolve(done))).toBe(done);
    expect(await ifSettled(new Promise(() => {}))).toBeUndefined();
    expect(await ifSettled(Promise.reject(new Error('no WAL')))).toBeUndefined();
    expect(await ifSettled(undefined)).toBeUndefined();
  });
});

describe('another source\'s scan, for segments identical to the ones fetched', () => {
  // Two "segments" (any bytes: only their equality matters here) in a scanned archive folder; the guard fetches
  // its own copies. Its own decoding is a stand-in pg_waldump that reports one CREATE at a path that exists.
  const names = ['000000010000000000000001', '000000010000000000000002'];
  const setup = (over: (name: string, bytes: Buffer) => Buffer = (_n, b) => b) => {
    const root = mkdtempSync(join(tmpdir(), 'undrop-guard-'));
    const archive = join(root, 'archive');
    const stage = join(root, 'stage');
    mkdirSync(archive);
    mkdirSync(stage);
    for (const [i, n] of names.entries()) writeFileSync(join(archive, n), Buffer.alloc(3 << 20, i + 1));
    const waldump = join(root, 'pg_waldump');
    writeFileSync(waldump, `#!/bin/sh\necho 'rmgr: Tablespace len (rec/tot): 39/39, tx: 750, lsn: 0/01000110, prev 0/010000D8, desc: CREATE 16390 "${root}"'\n`, { mode: 0o755 });
    const bin: PgBinaries = { major: 15, version: '15', dir: root, path: () => waldump };
    const fetch = async (name: string, dest: string) => {
      writeFileSync(dest, over(name, readFileSync(join(archive, name))));
      return true;
    };
    const elsewhere: TablespaceScan = { source: 'pitr', dir: archive, timeline: 1, spans: [{ from: '0/1000000', to: '0/2000100' }], creates: [] };
    return { root, stage, bin, fetch, elsewhere };
  };
  const range = { startLsn: '0/1000028', endLsn: '0/2000050', timeline: 1, label: 'backup' };

  it('identical bytes: the scan\'s answer (no CREATE), and no decoding of its own', async () => {
    const s = setup();
    expect(await assertFetchedReplayLeavesTablespacesAlone(s.bin, { ...range, fetch: s.fetch, stageDir: s.stage, elsewhere: s.elsewhere })).toEqual({ complete: true, segments: 2, sharedWith: 'pitr' });
    expect(await sameSegments(names, s.stage, s.elsewhere.dir!)).toBe(true);
    rmSync(s.root, { recursive: true, force: true });
  });

  it('one byte differs, or the scan did not read the whole range: it decodes the fetched WAL itself (and refuses the CREATE it finds)', async () => {
    const s = setup((n, b) => (n === names[1] ? Buffer.concat([b.subarray(0, b.length - 1), Buffer.from([0])]) : b));
    expect(await sameSegments(names, s.stage, s.elsewhere.dir!)).toBe(false);
    await expect(assertFetchedReplayLeavesTablespacesAlone(s.bin, { ...range, fetch: s.fetch, stageDir: s.stage, elsewhere: s.elsewhere })).rejects.toMatchObject({ code: 'REPLAY_WOULD_TOUCH_TABLESPACE' });
    const t = setup();
    const short = { ...t.elsewhere, spans: [{ from: '0/1000000', to: '0/2000040' }] };
    await expect(assertFetchedReplayLeavesTablespacesAlone(t.bin, { ...range, fetch: t.fetch, stageDir: t.stage, elsewhere: short })).rejects.toMatchObject({ code: 'REPLAY_WOULD_TOUCH_TABLESPACE' });
    // and the scan's own CREATE over an existing path refuses as well when the segments are identical
    const u = setup();
    const created = { ...u.elsewhere, creates: [{ oid: '16390', path: u.root, lsn: '0/1800000' }] };
    await expect(assertFetchedReplayLeavesTablespacesAlone(u.bin, { ...range, fetch: u.fetch, stageDir: u.stage, elsewhere: created })).rejects.toMatchObject({ code: 'REPLAY_WOULD_TOUCH_TABLESPACE' });
    for (const x of [s, t, u]) rmSync(x.root, { recursive: true, force: true });
  });
});
