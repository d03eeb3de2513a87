import { describe, expect, it, vi } from 'vitest';
import { EventDetector, parseDroppedStats, parseRels } from '../../src/recovery/locate/detector.js';
import { walTimeToIso } from '../../src/postgres/wal/records.js';
import type { RawEvent } from '../../src/recovery/locate/types.js';

function run(lines: string[], threshold = 1000): { events: RawEvent[]; d: EventDetector } {
  const events: RawEvent[] = [];
  const d = new EventDetector((e) => events.push(e), { threshold });
  for (const l of lines) d.push(l);
  return { events, d };
}

const rec = (rmgr: string, xid: number, lsn: string, desc: string) => `rmgr: ${rmgr.padEnd(11)} len (rec/tot):     42/    42, tx: ${String(xid).padStart(10)}, lsn: ${lsn}, prev 0/00000000, desc: ${desc}`;

// The incident of the notes (§6), shortened: locks, catalog deletes, new files, the big commit.
const INCIDENT = [
  'rmgr: Standby     len (rec/tot):     42/    42, tx:      29519, lsn: 0/165DEEE8, prev 0/165DEEB0, desc: LOCK xid 29519 db 16385 rel 16396 ',
  'rmgr: Heap        len (rec/tot):     59/  8175, tx:      29519, lsn: 0/165DF008, prev 0/165DEFD8, desc: DELETE off 4 flags 0x00 KEYS_UPDATED , blkref #0: rel 1663/16385/2610 blk 2 FPW',
  'rmgr: Standby     len (rec/tot):     42/    42, tx:      29519, lsn: 0/165E6050, prev 0/165E6018, desc: LOCK xid 29519 db 16385 rel 16387 ',
  'rmgr: Standby     len (rec/tot):     42/    42, tx:      29519, lsn: 0/165FDD08, prev 0/165FDCD0, desc: LOCK xid 29519 db 16385 rel 16412 ',
  'rmgr: Standby     len (rec/tot):     42/    42, tx:      29519, lsn: 0/16600588, prev 0/16600568, desc: LOCK xid 29519 db 16385 rel 24576',
  'rmgr: Storage     len (rec/tot):     42/    42, tx:      29519, lsn: 0/166005B8, prev 0/16600588, desc: CREATE base/16385/24576',
  'rmgr: Storage     len (rec/tot):     42/    42, tx:      29519, lsn: 0/16615778, prev 0/16615730, desc: CREATE base/16385/24582',
  'rmgr: Heap        len (rec/tot):    188/   188, tx:      29519, lsn: 0/166369B0, prev 0/16636920, desc: INPLACE off 40, blkref #0: rel 1663/16385/1259 blk 5',
  'rmgr: Transaction len (rec/tot):  11149/ 11149, tx:      29519, lsn: 0/16636A70, prev 0/166369B0, desc: COMMIT 2026-11-25 01:42:48.715829 UTC; rels: base/16385/16412 base/16385/16411 base/16385/16387 base/16385/16396; dropped stats: 2/16385/16396 2/16385/16387 2/16385/16411 2/16385/16412; inval msgs: catcache 32 catcache 7 catcache 6',
  'rmgr: Heap        len (rec/tot):     95/    95, tx:      29521, lsn: 0/1663B8E8, prev 0/1663B8A8, desc: INSERT+INIT off 1 flags 0x00, blkref #0: rel 1663/16385/24576 blk 0',
  'rmgr: Transaction len (rec/tot):     34/    34, tx:      29521, lsn: 0/1663BB28, prev 0/1663BAE8, desc: COMMIT 2026-11-25 01:42:48.900323 UTC',
];

describe('locate event detector', () => {
  it('parses rels, dropped stats and commit times', () => {
    expect(parseRels('base/16385/16412 pg_tblspc/16400/PG_15_202209061/16385/16500')).toEqual([
      [16385, 16412],
      [16385, 16500],
    ]);
    expect(parseDroppedStats('2/16385/16410 1/16461/0')).toEqual([
      { kind: 2, db: 16385, oid: 16410 },
      { kind: 1, db: 16461, oid: 0 },
    ]);
    expect(walTimeToIso('2026-11-25 01:42:48.715829 UTC')).toBe('2026-11-25T01:42:48.715829Z');
  });

  it('reports DROP + recreate in one transaction as one drop event with first LSN, commit LSN and the new files', () => {
    const { events, d } = run(INCIDENT);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      kind: 'drop',
      xid: 29519,
      firstLsn: '0/165DEEE8',
      commitLsn: '0/16636A70',
      commitTime: '2026-11-25T01:42:48.715829Z',
      databaseOid: 16385,
      droppedFiles: [16412, 16411, 16387, 16396],
      droppedOids: [16396, 16387, 16411, 16412],
      createdFiles: [24576, 24582],
    });
    expect(events[0]!.lockedOids).toContain(16387);
    // state is dropped at commit: nothing stays open
    expect(d.openTransactions()).toBe(0);
  });

  it('detects TRUNCATE: rels + new files, no dropped relation (OID ≠ relfilenode)', () => {
    const { events } = run([
      'rmgr: Standby     len (rec/tot):     42/    42, tx:      29630, lsn: 0/1691D2D0, prev 0/1691D258, desc: LOCK xid 29630 db 16386 rel 24609',
      'rmgr: Storage     len (rec/tot):     42/    42, tx:      29630, lsn: 0/1691F330, prev 0/1691D300, desc: CREATE base/16386/24619',
      'rmgr: Heap        len (rec/tot):     65/  6657, tx:      29630, lsn: 0/1691F360, prev 0/1691F330, desc: UPDATE off 5 xmax 29630 flags 0x00 ; new off 10 xmax 0, blkref #0: rel 1663/16386/1259 blk 1 FPW',
      rec('Standby', 29630, '0/16924988', 'LOCK xid 29630 db 16386 rel 24612'),
      rec('Storage', 29630, '0/169249B8', 'CREATE base/16386/24620'),
      rec('Standby', 29630, '0/16927F38', 'LOCK xid 29630 db 16386 rel 24613'),
      rec('Storage', 29630, '0/16927F68', 'CREATE base/16386/24621'),
      'rmgr: Transaction len (rec/tot):    266/   266, tx:      29630, lsn: 0/16928178, prev 0/169280E8, desc: COMMIT 2026-11-25 01:43:07.426325 UTC; rels: base/16386/24613 base/16386/24612 base/16386/24609; inval msgs: catcache 55 catcache 54',
    ]);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'truncate', xid: 29630, firstLsn: '0/1691D2D0', commitLsn: '0/16928178', databaseOid: 16386, droppedFiles: [24613, 24612, 24609], droppedOids: [], lockedOids: [24609, 24612, 24613] });
  });

  it('detects DROP DATABASE from the DROP dir record before the commit', () => {
    const { events } = run([
      rec('Heap', 822, '0/0EA9C0F0', 'DELETE off 7 flags 0x00 KEYS_UPDATED , blkref #0: rel 1664/0/1262 blk 0'),
      'rmgr: Database    len (rec/tot):     38/    38, tx:        822, lsn: 0/0EA9C168, prev 0/0EA9C0F0, desc: DROP dir 1663/16461',
      'rmgr: Transaction len (rec/tot):     98/    98, tx:        822, lsn: 0/0EA9C190, prev 0/0EA9C168, desc: COMMIT 2026-11-25 01:30:15.852328 UTC; dropped stats: 1/16461/0; inval msgs: catcache 21 catcache 21; sync',
    ]);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'drop-database', xid: 822, databaseOid: 16461, firstLsn: '0/EA9C0F0', commitLsn: '0/EA9C190', dropDir: [{ lsn: '0/EA9C168', tablespace: 1663, databaseOid: 16461 }] });
  });

  it('detects DELETE without WHERE above the threshold and counts rows; below it, nothing', () => {
    const lines: string[] = [rec('XLOG', 0, '0/16928288', 'FPI_FOR_HINT , blkref #0: rel 1663/16386/24614 blk 0 FPW')];
    for (let i = 0; i < 1500; i++) lines.push(rec('Heap', 29631, `0/1692${(0xa2d0 + i * 0x38).toString(16).toUpperCase()}`, `DELETE off ${(i % 200) + 1} flags 0x00 KEYS_UPDATED , blkref #0: rel 1663/16386/24614 blk ${Math.floor(i / 200)}`));
    lines.push('rmgr: Transaction len (rec/tot):     34/    34, tx:      29631, lsn: 0/16A596C8, prev 0/16A59690, desc: COMMIT 2026-11-25 01:43:07.439941 UTC');
    const { events } = run(lines, 1000);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'delete', operation: 'delete', xid: 29631, databaseOid: 16386, rowChanges: [{ relfilenode: 24614, deletes: 1500, updates: 0 }] });
    expect(run(lines, 2000).events).toHaveLength(0);
  });

  it('does not report a temp table drop, a rewrite (VACUUM FULL) or an aborted drop', () => {
    // temp: no rels at commit, only dropped stats
    const temp = [
      rec('Standby', 739, '0/019E8E20', 'LOCK xid 739 db 16384 rel 16443 '),
      'rmgr: Transaction len (rec/tot):    869/   869, tx:        739, lsn: 0/019EA068, prev 0/019EA030, desc: COMMIT 2026-11-25 03:08:22.336747 UTC; dropped stats: 2/16384/16443; inval msgs: catcache 36',
    ];
    // VACUUM FULL: old files in rels, dropped stats are the transient heap created in the same transaction
    const vacuumFull = [
      rec('Standby', 735, '0/019974C8', 'LOCK xid 735 db 16384 rel 16406 '),
      rec('Storage', 735, '0/01997528', 'CREATE base/16384/16435'),
      rec('Storage', 735, '0/0199AF68', 'CREATE base/16384/16438'),
      rec('Storage', 735, '0/0199D4F8', 'CREATE base/16384/16440'),
      'rmgr: Transaction len (rec/tot):   2561/  2561, tx:        735, lsn: 0/0199E2C8, prev 0/0199E290, desc: COMMIT 2026-11-25 03:08:22.318721 UTC; rels: base/16384/16413 base/16384/16416; dropped stats: 2/16384/16438 2/16384/16435; inval msgs: catcache 80',
    ];
    const aborted = [rec('Standby', 900, '0/02000000', 'LOCK xid 900 db 16384 rel 16500'), rec('Transaction', 900, '0/02000030', 'ABORT 2026-11-25 03:09:00.000000 UTC; rels: base/16384/16501')];
    const { events, d } = run([...temp, ...vacuumFull, ...aborted]);
    expect(events).toEqual([]);
    expect(d.stats.rewrites).toBe(1);
    expect(d.openTransactions()).toBe(0);
  });

  it('reports a drop after VACUUM FULL with the rewritten relfilenodes and the original OIDs', () => {
    const { events } = run([
      rec('Standby', 736, '0/0199ECD0', 'LOCK xid 736 db 16384 rel 16406 '),
      'rmgr: Transaction len (rec/tot):   1245/  1245, tx:        736, lsn: 0/019A1580, prev 0/019A1548, desc: COMMIT 2026-11-25 03:08:22.322384 UTC; rels: base/16384/16435 base/16384/16438 base/16384/16439 base/16384/16440; dropped stats: 2/16384/16411 2/16384/16410 2/16384/16409 2/16384/16406; inval msgs: catcache 32',
    ]);
    expect(events[0]).toMatchObject({ kind: 'drop', droppedFiles: [16435, 16438, 16439, 16440], droppedOids: [16411, 16410, 16409, 16406] });
  });

  it('merges committed subtransactions and forgets crashed transactions at RUNNING_XACTS', () => {
    const lines = [rec('Heap', 1001, '0/03000000', 'INSERT off 1 flags 0x00, blkref #0: rel 1663/16384/16500 blk 0')];
    for (let i = 0; i < 5; i++) lines.push(rec('Heap', 1002, `0/030000${(0x10 + i * 0x10).toString(16).toUpperCase()}`, `DELETE off ${i + 1} flags 0x00 KEYS_UPDATED , blkref #0: rel 1663/16384/16600 blk 0`));
    lines.push(rec('Heap', 999, '0/03001000', 'INSERT off 1 flags 0x00, blkref #0: rel 1663/16384/16500 blk 0'));
    lines.push(rec('Transaction', 1001, '0/03002000', 'COMMIT 2026-11-25 03:09:00.000000 UTC; subxacts: 1002'));
    const { events, d } = run(lines, 5);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'delete', xid: 1001, firstLsn: '0/3000000', rowChanges: [{ relfilenode: 16600, deletes: 5, updates: 0 }] });
    expect(d.openTransactions()).toBe(1); // xid 999 never finished
    d.push(rec('Standby', 0, '0/03003000', 'RUNNING_XACTS nextXid 1010 latestCompletedXid 1009 oldestRunningXid 1010'));
    expect(d.openTransactions()).toBe(0);
  });
});

describe('locate detector fast path (raw bytes)', () => {
  it('finds the same events from raw bytes as from strings', () => {
    const lines = [...INCIDENT];
    for (let i = 0; i < 1200; i++) lines.push(rec('Heap', 29700, `0/1700${(0x1000 + i * 0x10).toString(16).toUpperCase()}`, `DELETE off ${(i % 100) + 1} flags 0x00 KEYS_UPDATED , blkref #0: rel 1663/16386/24614 blk ${Math.floor(i / 100)}`));
    lines.push(rec('Heap', 29700, '0/17100000', 'INSERT off 1 flags 0x00, blkref #0: rel 1663/16386/24614 blk 20'));
    lines.push(rec('Transaction', 29700, '0/17200000', 'COMMIT 2026-11-25 01:45:00.000000 UTC'));
    const buf = Buffer.from(lines.join('\n') + '\n', 'latin1');
    const events: RawEvent[] = [];
    const d = new EventDetector((e) => events.push(e), { threshold: 1000 });
    let start = 0;
    for (let nl = buf.indexOf(10); nl >= 0; nl = buf.indexOf(10, start)) {
      d.pushBytes(buf, start, nl);
      start = nl + 1;
    }
    expect(events).toEqual(run(lines).events);
    expect(events.map((e) => e.kind)).toEqual(['drop', 'delete']);
    expect(d.stats.records).toBe(lines.length);
  });
});

describe('locate detector fast path: whole blocks of raw lines (pushLines)', () => {
  /** Feed lines as pg_waldump's stream would arrive: blocks of whole lines, cut every `every` lines. */
  function runBlocks(lines: string[], every: number, threshold = 1000, onCommit?: (t: string) => boolean): { events: RawEvent[]; d: EventDetector; completed: boolean } {
    const events: RawEvent[] = [];
    const d = new EventDetector((e) => events.push(e), { threshold });
    let completed = true;
    for (let i = 0; i < lines.length && completed; i += every) {
      const buf = Buffer.from(`${lines.slice(i, i + every).join('\n')}\n`, 'latin1');
      completed = d.pushLines(buf, 0, buf.length, onCommit);
    }
    return { events, d, completed };
  }

  const SUBXACT = [
    rec('Heap', 1001, '0/03000000', 'INSERT off 1 flags 0x00, blkref #0: rel 1663/16384/16500 blk 0'),
    ...Array.from({ length: 5 }, (_, i) => rec('Heap', 1002, `0/030000${(0x10 + i * 0x10).toString(16).toUpperCase()}`, `DELETE off ${i + 1} flags 0x00 KEYS_UPDATED , blkref #0: rel 1663/16384/16600 blk 0`)),
    rec('Heap', 999, '0/03001000', 'INSERT off 1 flags 0x00, blkref #0: rel 1663/16384/16500 blk 0'),
    rec('Transaction', 1001, '0/03002000', 'COMMIT 2026-11-25 03:09:00.000000 UTC; subxacts: 1002'),
  ];
  const DROP_DATABASE = [
    rec('Heap', 822, '0/0EA9C0F0', 'DELETE off 7 flags 0x00 KEYS_UPDATED , blkref #0: rel 1664/0/1262 blk 0'),
    'rmgr: Database    len (rec/tot):     38/    38, tx:        822, lsn: 0/0EA9C168, prev 0/0EA9C0F0, desc: DROP dir 1663/16461',
    'rmgr: Transaction len (rec/tot):     98/    98, tx:        822, lsn: 0/0EA9C190, prev 0/0EA9C168, desc: COMMIT 2026-11-25 01:30:15.852328 UTC; dropped stats: 1/16461/0; inval msgs: catcache 21 catcache 21; sync',
  ];
  // A mass UPDATE (HOT and not) that starts with rows the fast path only notes (Btree, Heap2, XLOG with the xid).
  const UPDATE_ALL = [
    'rmgr: XLOG        len (rec/tot):     49/  8241, tx:      29700, lsn: 0/1661C5F8, prev 0/1661C3B8, desc: FPI_FOR_HINT , blkref #0: rel 1663/16385/1249 fork fsm blk 2 FPW',
    'rmgr: Btree       len (rec/tot):     90/    90, tx:      29700, lsn: 0/1663B948, prev 0/1663B8E8, desc: NEWROOT lev 0, blkref #0: rel 1663/16385/24582 blk 1, blkref #2: rel 1663/16385/24582 blk 0',
    ...Array.from({ length: 1200 }, (_, i) =>
      i % 2
        ? rec('Heap', 29700, `0/1670${(0x1000 + i * 0x48).toString(16).toUpperCase()}`, `HOT_UPDATE off ${(i % 90) + 1} xmax 29700 flags 0x10 ; new off ${(i % 90) + 2} xmax 0, blkref #0: rel 1663/16385/24576 blk ${i >> 6}`)
        : rec('Heap', 29700, `0/1670${(0x1000 + i * 0x48).toString(16).toUpperCase()}`, `UPDATE off ${(i % 90) + 1} xmax 29700 flags 0x00 ; new off 3 xmax 0, blkref #0: rel 1663/16385/24576 blk 9, blkref #1: rel 1663/16385/24576 blk ${i >> 6}`),
    ),
    rec('Heap2', 29700, '0/17000000', 'MULTI_INSERT 3 tuples flags 0x02, blkref #0: rel 1663/16385/24576 blk 40'),
    rec('Transaction', 29700, '0/17100000', 'COMMIT 2026-11-25 01:45:00.000000 UTC'),
  ];
  // A resource manager name longer than the 11-character column shifts the layout: the string path reads it.
  const LONG_RMGR = [
    'rmgr: ReplicationOrigin len (rec/tot):     42/    42, tx:       4242, lsn: 0/18000000, prev 0/17FFFFC0, desc: SET 0/0 id 1 force: 1',
    rec('Heap', 4242, '0/18000040', 'DELETE off 1 flags 0x00 KEYS_UPDATED , blkref #0: rel 1663/16385/24999 blk 0'),
    rec('Transaction', 4242, '0/18000080', 'COMMIT 2026-11-25 01:46:00.000000 UTC'),
  ];

  it('finds exactly what the string path finds, blocks of any size', () => {
    const all = [...INCIDENT, ...SUBXACT, ...DROP_DATABASE, ...UPDATE_ALL, ...LONG_RMGR];
    const expected = run(all, 1);
    for (const every of [1, 2, 3, 50, all.length]) {
      const { events, d } = runBlocks(all, every, 1);
      expect(events).toEqual(expected.events);
      expect(d.stats.records).toBe(expected.d.stats.records);
      expect(d.stats.commits).toBe(expected.d.stats.commits);
      expect(d.openTransactions()).toBe(expected.d.openTransactions());
      expect(d.stats.firstLsn).toBe('0/165DEEE8');
      expect(d.stats.lastLsn).toBe('0/18000080');
    }
  });

  it('opens a transaction at its first record of any kind (first LSN), as pg_waldump -x shows it', () => {
    expect(runBlocks(SUBXACT, 100, 5).events[0]).toMatchObject({ kind: 'delete', xid: 1001, firstLsn: '0/3000000', rowChanges: [{ relfilenode: 16600, deletes: 5, updates: 0 }] });
    expect(runBlocks(DROP_DATABASE, 100).events[0]).toMatchObject({ kind: 'drop-database', xid: 822, firstLsn: '0/EA9C0F0' });
    const upd = runBlocks(UPDATE_ALL, 100).events;
    expect(upd).toHaveLength(1);
    expect(upd[0]).toMatchObject({ kind: 'delete', operation: 'update', xid: 29700, firstLsn: '0/1661C5F8', databaseOid: 16385, rowChanges: [{ relfilenode: 24576, deletes: 0, updates: 1200 }] });
  });

  it('reads Heap, Btree, Heap2 and XLOG lines from bytes: only the rare kinds become strings', () => {
    const d = new EventDetector(() => {}, { threshold: 1000 });
    const strings = vi.spyOn(d, 'push');
    const buf = Buffer.from(`${UPDATE_ALL.join('\n')}\n`, 'latin1');
    d.pushLines(buf, 0, buf.length);
    // the first record (stats.firstLsn) and the COMMIT
    expect(strings).toHaveBeenCalledTimes(2);
  });

  it('counts catalog rows for nothing and reads blkref #0 only', () => {
    const lines = [
      ...Array.from({ length: 3 }, (_, i) => rec('Heap', 50, `0/0100${i}000`, `DELETE off ${i + 1} flags 0x00 KEYS_UPDATED , blkref #0: rel 1663/16385/1259 blk 0, blkref #1: rel 1663/16385/24576 blk 0`)),
      ...Array.from({ length: 3 }, (_, i) => rec('Heap', 50, `0/0200${i}000`, `DELETE off ${i + 1} flags 0x00 KEYS_UPDATED , blkref #0: rel 1664/0/1262 blk 0`)),
      rec('Transaction', 50, '0/03000000', 'COMMIT 2026-11-25 01:46:00.000000 UTC'),
    ];
    expect(runBlocks(lines, 100, 1).events).toEqual([]);
  });

  it('stops at the first COMMIT the caller refuses (--until)', () => {
    const lines = [...INCIDENT, ...SUBXACT];
    const seen: string[] = [];
    const { events, completed } = runBlocks(lines, 100, 5, (t) => {
      seen.push(t);
      return t < '2026-11-25T01:42:48.8Z';
    });
    expect(completed).toBe(false);
    expect(seen).toEqual(['2026-11-25T01:42:48.715829Z', '2026-11-25T01:42:48.900323Z']);
    expect(events.map((e) => e.xid)).toEqual([29519]);
  });
});
