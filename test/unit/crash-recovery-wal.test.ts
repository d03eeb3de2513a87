// What of a snapshot's pg_wal crash recovery reads (pure): segments from the
// checkpoint's REDO on whose first page names them; recycled ones (an old
// page address), zero-filled ones, another cluster's, and those before REDO
// are left out; every file that is not a segment is kept.
import { describe, expect, it } from 'vitest';
import { headerNamesSegment, planCrashRecoveryWal, type WalFileFacts } from '../../src/postgres/wal/crash-recovery-wal.js';
import type { SegmentHeader } from '../../src/postgres/wal/segments.js';

const SEG = 16 * 1024 * 1024;
const c = { redo: '0/136B1C00', systemId: '7716371197835029292', segmentSize: SEG, backupLabel: false };
const header = (pageAddr: string, over: Partial<SegmentHeader> = {}): SegmentHeader => ({ magic: 0xd110, major: 15, timeline: 1, pageAddr, systemIdentifier: c.systemId, segmentSize: SEG, blockSize: 8192, ...over });
const seg = (name: string, h: SegmentHeader | null): WalFileFacts => ({ name, size: SEG, header: h });

describe('crash recovery WAL', () => {
  it('keeps REDO’s segment and the ones after it that name themselves; leaves out recycled, zero-filled, foreign and older ones', () => {
    const files = [
      seg('000000010000000000000012', header('0/12000000')), // before REDO's segment
      seg('000000010000000000000013', header('0/13000000')), // REDO's
      seg('000000010000000000000014', header('0/14000000')), // written after the checkpoint
      seg('000000010000000000000015', header('0/9000000')), // recycled: an old segment's page address
      seg('000000010000000000000016', null), // zero-filled (no long header)
      seg('000000010000000000000017', header('0/17000000', { systemIdentifier: '1' })), // another cluster's
      seg('000000010000000000000018', header('0/17000000', { magic: 0x1234, major: undefined })), // recycled, any magic
      seg('000000020000000000000014', header('0/14000000', { timeline: 2 })), // another timeline's, valid: kept
    ];
    const plan = planCrashRecoveryWal(files, c);
    expect(plan.skipped).toEqual(['000000010000000000000012', '000000010000000000000015', '000000010000000000000016', '000000010000000000000017', '000000010000000000000018']);
    expect(plan.skippedBytes).toBe(5 * SEG);
    expect(plan.keptBytes).toBe(3 * SEG);
    for (const n of ['000000010000000000000013', '000000010000000000000014', '000000020000000000000014', '00000002.history', '000000010000000000000013.partial', '00000001000000000000000F.00000028.backup', 'archive_status']) expect(plan.keep(n), n).toBe(true);
  });

  it('a major newer than the magic table still names its segments; without the redo segment kept, everything is copied', () => {
    const newer = planCrashRecoveryWal([seg('000000010000000000000013', header('0/13000000', { magic: 0xd200, major: undefined }))], c);
    expect(newer.skipped).toEqual([]);
    const noRedo = planCrashRecoveryWal([seg('000000010000000000000013', header('0/9000000')), seg('000000010000000000000014', header('0/14000000'))], c);
    expect(noRedo.skipped).toEqual([]);
    expect(noRedo.keep('000000010000000000000013')).toBe(true);
    expect(noRedo.keptBytes).toBe(2 * SEG);
  });

  it('with a backup_label, nothing before REDO is left out (recovery starts where the label says)', () => {
    const plan = planCrashRecoveryWal([seg('000000010000000000000012', header('0/12000000')), seg('000000010000000000000013', header('0/13000000')), seg('000000010000000000000015', header('0/9000000'))], { ...c, backupLabel: true });
    expect(plan.skipped).toEqual(['000000010000000000000015']);
  });

  it('a header names its segment only with the cluster’s segment size and system identifier', () => {
    expect(headerNamesSegment('000000010000000000000014', header('0/14000000'), c)).toBe(true);
    expect(headerNamesSegment('000000010000000000000014', header('0/14000000', { segmentSize: 64 * 1024 * 1024 }), c)).toBe(false);
    expect(headerNamesSegment('000000010000000000000014', header('0/14000000', { systemIdentifier: '42' }), c)).toBe(false);
    expect(headerNamesSegment('000000010000000100000000', header('1/0'), c)).toBe(true);
  });
});
