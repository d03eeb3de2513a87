import { describe, expect, it } from 'vitest';
import { LineBlocks, findStdbuf, isEndOfWal, waldumpArgs, waldumpCommand } from '../../src/postgres/wal/waldump.js';
import { canonicalLsn, firstBlockRel, parseRecordLine } from '../../src/postgres/wal/records.js';
import { decodeSegmentHeader, majorFromWalMagic } from '../../src/postgres/wal/segments.js';

// Verbatim from /work/shared/notes/postgres-recovery-mechanics.md §6.
const COMMIT =
  'rmgr: Transaction len (rec/tot):  11149/ 11149, tx:      29519, lsn: 0/16636A70, prev 0/166369B0, desc: COMMIT 2026-11-25 01:42:48.715829 UTC; rels: base/16385/16412 base/16385/16411; dropped stats: 2/16385/16411 2/16385/16412; inval msgs: catcache 32 catcache 7';
const HEAP_DELETE =
  'rmgr: Heap        len (rec/tot):     59/  8175, tx:      29519, lsn: 0/165DF008, prev 0/165DEFD8, desc: DELETE off 4 flags 0x00 KEYS_UPDATED , blkref #0: rel 1663/16385/2610 blk 2 FPW';
const BTREE =
  'rmgr: Btree       len (rec/tot):     90/    90, tx:      29521, lsn: 0/1663B948, prev 0/1663B8E8, desc: NEWROOT lev 0, blkref #0: rel 1663/16385/24582 blk 1, blkref #2: rel 1663/16385/24582 blk 0';
const FSM =
  'rmgr: XLOG        len (rec/tot):     49/  8241, tx:      29519, lsn: 0/1661C5F8, prev 0/1661C3B8, desc: FPI_FOR_HINT , blkref #0: rel 1663/16385/1249 fork fsm blk 2 FPW';

describe('pg_waldump record parser', () => {
  it('parses a COMMIT with rels', () => {
    const r = parseRecordLine(COMMIT)!;
    expect(r).toMatchObject({ rmgr: 'Transaction', recLen: 11149, totLen: 11149, xid: 29519, lsn: '0/16636A70', prev: '0/166369B0' });
    expect(r.desc.startsWith('COMMIT 2026-11-25 01:42:48.715829 UTC; rels:')).toBe(true);
    expect(r.blkrefs).toEqual([]);
  });

  it('parses block references, forks and full-page writes', () => {
    expect(parseRecordLine(HEAP_DELETE)!.blkrefs).toEqual([{ id: 0, tablespace: 1663, database: 16385, relfilenode: 2610, fork: 'main', block: 2, fpw: true }]);
    expect(parseRecordLine(BTREE)!.blkrefs.map((b) => [b.id, b.block])).toEqual([
      [0, 1],
      [2, 0],
    ]);
    expect(parseRecordLine(FSM)!.blkrefs[0]).toMatchObject({ relfilenode: 1249, fork: 'fsm', block: 2, fpw: true });
    expect(firstBlockRel(HEAP_DELETE)).toEqual([1663, 16385, 2610]);
  });

  it('normalizes zero-padded LSNs and ignores non-record lines', () => {
    const r = parseRecordLine('rmgr: Database    len (rec/tot):     38/    38, tx:        822, lsn: 0/0EA9C168, prev 0/0EA9C0F0, desc: DROP dir 1663/16461')!;
    expect(r.lsn).toBe('0/EA9C168');
    expect(r.prev).toBe('0/EA9C0F0');
    expect(canonicalLsn('0/00000000')).toBe('0/0');
    expect(parseRecordLine('pg_waldump: error: could not find file')).toBeNull();
    expect(parseRecordLine('')).toBeNull();
  });

  it('builds pg_waldump arguments', () => {
    expect(waldumpArgs({ dir: '/a', timeline: 1, rmgrs: ['Heap', 'Transaction'], startSegment: 'S1', endSegment: 'S2' })).toEqual(['-p', '/a', '-t', '1', '-r', 'Heap', '-r', 'Transaction', 'S1', 'S2']);
  });

  it('tells the normal end of WAL from a real error', () => {
    expect(isEndOfWal('pg_waldump: error: error in WAL record at 0/16A5F278: invalid record length at 0/16A5F2B0: wanted 24, got 0')).toBe(true);
    expect(isEndOfWal('pg_waldump: error: error in WAL record at 0/1: incorrect resource manager data checksum in record at 0/16A5F2B0')).toBe(false);
  });

  it('reads segment headers: magic → major, system identifier, segment size', () => {
    const b = Buffer.alloc(40);
    b.writeUInt16LE(0xd110, 0);
    b.writeUInt16LE(0x0002, 2);
    b.writeUInt32LE(1, 4);
    b.writeBigUInt64LE(0x16000000n, 8);
    b.writeBigUInt64LE(7441234567890123456n, 24);
    b.writeUInt32LE(16 * 1024 * 1024, 32);
    b.writeUInt32LE(8192, 36);
    expect(decodeSegmentHeader(b)).toEqual({ magic: 0xd110, major: 15, timeline: 1, pageAddr: '0/16000000', systemIdentifier: '7441234567890123456', segmentSize: 16777216, blockSize: 8192 });
    expect(majorFromWalMagic(0xd116)).toBe(17);
  });
});

describe('LineBlocks (raw pg_waldump output cut into whole lines)', () => {
  it('hands out every line exactly once, whatever the chunk boundaries', () => {
    const lines = [COMMIT, HEAP_DELETE, BTREE, FSM, 'rmgr: Database    len (rec/tot):     38/    38, tx:        822, lsn: 0/0EA9C168, prev 0/0EA9C0F0, desc: DROP dir 1663/16461'];
    const text = Buffer.from(`${lines.join('\n')}\n${lines[1]}`, 'latin1'); // the last line has no newline
    for (const size of [1, 7, 64, 150, 333, text.length]) {
      const got: string[] = [];
      let ended = false;
      const blocks = new LineBlocks((buf, start, end) => {
        const block = buf.toString('latin1', start, end);
        if (!ended) expect(block.endsWith('\n')).toBe(true); // whole lines only, until the end of the stream
        got.push(...block.split('\n').filter((l) => l.length > 0));
      });
      for (let i = 0; i < text.length; i += size) expect(blocks.push(text.subarray(i, i + size))).toBe(true);
      ended = true;
      blocks.end();
      expect(got).toEqual([...lines, lines[1]]);
    }
  });

  it('stops when the consumer says so', () => {
    let calls = 0;
    const blocks = new LineBlocks(() => {
      calls++;
      return false;
    });
    expect(blocks.push(Buffer.from(`${COMMIT}\n${BTREE}\n`))).toBe(false);
    expect(calls).toBe(1);
  });

  it('runs pg_waldump through stdbuf with a large output buffer when it can', async () => {
    const bin = { major: 15, path: (p: string) => `/nonexistent/${p}` } as unknown as Parameters<typeof waldumpCommand>[0];
    const stdbuf = await findStdbuf();
    if (stdbuf) await expect(waldumpCommand(bin, { dir: '/a' })).rejects.toMatchObject({ code: 'PG_PROGRAM_MISSING' });
    const [file, args] = await waldumpCommand(bin, { dir: '/a', startSegment: 'S1' }, false);
    expect([file, args]).toEqual(['/nonexistent/pg_waldump', ['-p', '/a', 'S1']]);
  });
});
