import { describe, expect, it } from 'vitest';
import { missingSegmentFromLog, parseRecoveryLog, pausedAtTarget, recoveryShortError } from '../../src/postgres/recovery-watch.js';
import { parseCommitLine, transactionEndIn } from '../../src/postgres/wal/records.js';
import { dataList, foreignKeysOfWanted, referencedTable, unwantedForeignKeys } from '../../src/sources/common/restore-list.js';
import type { TocEntry } from '../../src/sources/common/toc.js';
import { backupSets, chooseSet } from '../../src/sources/pgbackrest/materialize.js';
import { restoreCommandFor } from '../../src/sources/pitr/materialize.js';
import { targetSettings } from '../../src/sources/materialize/target-settings.js';
import { type BaseBackup, chooseBackup } from '../../src/sources/pitr/restore.js';

// Verbatim from a PostgreSQL 15 PITR log (shared/notes §7a/7b/7d).
const PITR_LOG = `
2026-11-25 01:44:02.818 UTC [1] LOG:  starting point-in-time recovery to XID 29519
2026-11-25 01:44:04.430 UTC [1] LOG:  recovery stopping before commit of transaction 29519, time 2026-11-25 01:42:48.715829+00
2026-11-25 01:54:51.459 UTC [1] LOG:  redo done at 0/16636A70 system usage: CPU: user: 0.58 s, system: 0.62 s, elapsed: 648.58 s
2026-11-25 01:54:51.459 UTC [1] LOG:  last completed transaction was at log time 2026-11-25 01:42:48.602605+00
2026-11-25 01:54:51.479 UTC [1] LOG:  selected new timeline ID: 2
`;

const GAP_LOG = `
LOG:  restored log file "000000010000000000000011" from archive
cp: cannot stat '/lab/archive_gap/000000010000000000000012': No such file or directory
cp: cannot stat '/lab/archive_gap/00000002.history': No such file or directory
LOG:  redo done at 0/11FFE608 system usage: CPU: user: 0.13 s, system: 0.36 s, elapsed: 1.01 s
FATAL:  recovery ended before configured recovery target was reached
`;

describe('recovery log reading', () => {
  it('reads where recovery stopped and the last replayed commit', () => {
    expect(parseRecoveryLog(PITR_LOG)).toEqual({
      stopLine: 'recovery stopping before commit of transaction 29519, time 2026-11-25 01:42:48.715829+00',
      stoppedBeforeXid: '29519',
      redoDoneLsn: '0/16636A70',
      lastTransactionTime: '2026-11-25T01:42:48.602Z',
      timeline: 2,
    });
  });
  it('knows a server paused at its target (to be promoted) from one still replaying', () => {
    expect(pausedAtTarget(`${PITR_LOG}2026-11-25 01:44:04.430 UTC [1] LOG:  pausing at the end of recovery\n2026-11-25 01:44:04.430 UTC [1] HINT:  Execute pg_wal_replay_resume() to promote.\n`)).toBe(true);
    expect(pausedAtTarget(PITR_LOG)).toBe(false);
    // a pause for another reason (too low max_connections) is not the target
    expect(pausedAtTarget('LOG:  recovery has paused\nDETAIL:  If recovery is unpaused, the server will shut down.\n')).toBe(false);
  });
  it('names the missing segment, not the timeline history probe', () => {
    expect(missingSegmentFromLog(GAP_LOG)).toBe('000000010000000000000012');
    expect(missingSegmentFromLog(PITR_LOG)).toBeUndefined();
  });
  it('names the segment after the last replayed one when restore_command said nothing (pgBackRest)', () => {
    const log = 'LOG:  starting backup recovery with redo LSN 0/7000028, checkpoint LSN 0/7000060, on timeline ID 1\nLOG:  redo done at 0/11FFE608 system usage: CPU\nFATAL:  recovery ended before configured recovery target was reached\n';
    expect(recoveryShortError(log, '/x/server.log')).toMatchObject({ code: 'WAL_SEGMENT_MISSING', message: expect.stringContaining('000000010000000000000012') });
    expect(missingSegmentFromLog('P00   INFO: unable to find 000000010000000000000012 in the archive')).toBe('000000010000000000000012');
    expect(recoveryShortError(PITR_LOG, '/x')).toBeUndefined();
  });
  it("names the backup's own missing segment when the server never became consistent", () => {
    // Verbatim (trimmed) from PostgreSQL 15: a pgBackRest set whose first segment was gone from the repository.
    const noCheckpoint = `LOG:  starting point-in-time recovery to XID 783
FATAL:  the database system is starting up
LOG:  starting backup recovery with redo LSN 0/60000C8, checkpoint LSN 0/60081B8, on timeline ID 1
LOG:  invalid checkpoint record
FATAL:  could not locate required checkpoint record
LOG:  startup process (PID 20558) exited with exit code 1
`;
    const err = recoveryShortError(noCheckpoint, '/x/server.log')!;
    expect(err).toMatchObject({ code: 'WAL_SEGMENT_MISSING', message: expect.stringContaining('000000010000000000000006') });
    expect(err.hint).toContain('--set');
    expect(err.details).not.toContainEqual(expect.stringContaining('starting up'));
    // a later segment of the backup's WAL: the one after the last restored
    const endsEarly = `LOG:  starting backup recovery with redo LSN 0/60000C8, checkpoint LSN 0/60081B8, on timeline ID 1
LOG:  restored log file "000000010000000000000006" from archive
LOG:  redo starts at 0/60000C8
FATAL:  WAL ends before end of online backup
HINT:  All WAL generated while online backup was taken must be available at recovery.
`;
    expect(recoveryShortError(endsEarly, '/x')).toMatchObject({ code: 'WAL_SEGMENT_MISSING', message: expect.stringContaining('000000010000000000000007') });
  });
  it('a segment that could not be restored onto a full disk is a full disk, not a gap in the archive', () => {
    const log = 'LOG:  redo done at 0/11FFE608 system usage: CPU\nrepo1: 15-1/0000000100000000/000000010000000000000012-84b2.gz [FileWriteError] unable to write \'/w/data/pg_wal/RECOVERYXLOG\': [2] No such file or directory\nFATAL:  recovery ended before configured recovery target was reached\n';
    expect(recoveryShortError(log, '/x', undefined, 3 * 1024 * 1024)).toMatchObject({ code: 'DISK_FULL', message: expect.stringMatching(/000000010000000000000012 could not be restored, disk full/) });
    expect(recoveryShortError(log, '/x', undefined, 10 * 1024 ** 3)).toMatchObject({ code: 'WAL_SEGMENT_MISSING' });
    expect(recoveryShortError(log, '/x')).toMatchObject({ code: 'WAL_SEGMENT_MISSING' });
  });
  it('reads COMMIT records from pg_waldump', () => {
    const line = 'rmgr: Transaction len (rec/tot):     34/    34, tx:      29521, lsn: 0/1663BB28, prev 0/1663BAE8, desc: COMMIT 2026-11-25 01:42:48.900323 UTC';
    expect(parseCommitLine(line)).toEqual({ xid: '29521', lsn: '0/1663BB28', time: '2026-11-25T01:42:48.900323Z' });
  });
  it('reads where a transaction ended as recovery_target_xid does: COMMIT or ABORT, a prepared one by its own xid', () => {
    const rec = (tx: number, desc: string) => `rmgr: Transaction len (rec/tot):     34/    34, tx:      ${tx}, lsn: 0/0163BB28, prev 0/1663BAE8, desc: ${desc}`;
    expect(transactionEndIn(rec(29521, 'COMMIT 2026-11-25 01:42:48.900323 UTC'))).toEqual({ xid: '29521', lsn: '0/163BB28' });
    expect(transactionEndIn(rec(29522, 'ABORT 2026-11-25 01:42:48.900323 UTC; subxacts: 29523'))).toEqual({ xid: '29522', lsn: '0/163BB28' });
    expect(transactionEndIn(rec(0, 'COMMIT_PREPARED 745: 2026-11-25 01:42:48.900323 UTC; rels: base/5/16384'))).toEqual({ xid: '745', lsn: '0/163BB28' });
    expect(transactionEndIn(rec(0, 'ABORT_PREPARED 746: 2026-11-25 01:42:48.900323 UTC'))).toEqual({ xid: '746', lsn: '0/163BB28' });
    expect(transactionEndIn(rec(747, 'PREPARE gid tx1: 2026-11-25 01:42:48.900323 UTC'))).toBeUndefined();
    expect(transactionEndIn(rec(747, 'ASSIGNMENT xtop 747: subxacts: 748'))).toBeUndefined();
    expect(transactionEndIn('rmgr: Heap len (rec/tot): 59/59, tx: 749, lsn: 0/0B0000D8, prev 0/0B0000A0, desc: INSERT off 2')).toBeUndefined();
  });
});

describe('dump restore lists', () => {
  const e = (dumpId: number, desc: string, schema: string | null, name: string): TocEntry => ({ dumpId, desc, schema, name, owner: 'postgres' });
  const toc = [
    e(218, 'TABLE', 'public', 'invoices'),
    e(3370, 'TABLE DATA', 'public', 'invoices'),
    e(3368, 'TABLE DATA', 'public', 'shipment_events'),
    e(3371, 'TABLE DATA', 'public', 'victim'),
    e(3379, 'SEQUENCE SET', 'public', 'invoices_id_seq'),
    e(3223, 'FK CONSTRAINT', 'public', 'shipment_events shipment_events_shipment_id_fkey'),
  ];
  it('restores rows only for the wanted tables, and every sequence value', () => {
    expect(dataList(toc, [{ schema: 'public', name: 'invoices' }]).map((x) => x.dumpId)).toEqual([3370, 3379]);
  });
  it('parses the referenced table of a foreign key', () => {
    expect(referencedTable('ALTER TABLE ONLY public.shipment_events\n    ADD CONSTRAINT f FOREIGN KEY (shipment_id) REFERENCES public.shipments(id);')).toEqual({ schema: 'public', name: 'shipments' });
    expect(referencedTable('ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES "Sales"."Order ""Items"""(id);')).toEqual({ schema: 'Sales', name: 'Order "Items"' });
  });
  it('keeps a foreign key only when both its tables are recovered', () => {
    const fk = { entry: toc[5]!, sql: 'ALTER TABLE ONLY public.shipment_events ADD CONSTRAINT f FOREIGN KEY (shipment_id) REFERENCES public.shipments(id);' };
    expect(unwantedForeignKeys([fk], [{ schema: 'public', name: 'shipment_events' }])).toHaveLength(1);
    expect(unwantedForeignKeys([fk], [{ schema: 'public', name: 'shipment_events' }, { schema: 'public', name: 'shipments' }])).toHaveLength(0);
  });
  it('reads the SQL of the wanted tables\' own foreign keys only', () => {
    expect(foreignKeysOfWanted(toc, [{ schema: 'public', name: 'shipment_events' }]).map((x) => x.dumpId)).toEqual([3223]);
    expect(foreignKeysOfWanted(toc, [{ schema: 'public', name: 'shipments' }])).toEqual([]);
    expect(foreignKeysOfWanted(toc, [{ schema: 'other', name: 'shipment_events' }])).toEqual([]);
  });
});

describe('choosing what to restore', () => {
  const b = (startLsn: string, endLsn: string, startTime: string): BaseBackup => ({ path: `/b/${startLsn}`, format: 'plain', startLsn, endLsn, startTime, timeline: 1, sizeBytes: 1 });
  const backups = [b('0/A000028', '0/A000100', '2026-11-25T01:28:04Z'), b('0/9000028', '0/9000100', '2026-11-25T01:28:03Z')];
  it('takes the newest base backup that ends before the target', () => {
    expect(chooseBackup(backups, { kind: 'xid', xid: '1', commitLsn: '0/16636A70', inclusive: false, origin: 't' })?.startLsn).toBe('0/A000028');
    expect(chooseBackup(backups, { kind: 'lsn', commitLsn: '0/A000050', inclusive: false, origin: 't' })?.startLsn).toBe('0/9000028');
    expect(chooseBackup(backups, { kind: 'lsn', commitLsn: '0/9000050', inclusive: false, origin: 't' })).toBeUndefined();
  });
  it('takes the newest pgBackRest set that stopped before the target', () => {
    const sets = [
      { label: 'F1', type: 'full', startLsn: '0/5000028', timeline: 1, stopLsn: '0/5000100', stopTime: 1, size: 1 },
      { label: 'F2', type: 'full', startLsn: '0/9000028', timeline: 1, stopLsn: '0/9000100', stopTime: 2, size: 1 },
      { label: 'F3', type: 'full', startLsn: '0/20000028', timeline: 1, stopLsn: '0/20000100', stopTime: 3, size: 1 },
    ];
    expect(chooseSet(sets, { kind: 'xid', xid: '1', commitLsn: '0/16636A70', inclusive: false, origin: 't' })?.label).toBe('F2');
  });
  it("reads a pgBackRest set's start (where replay begins) and timeline from pgbackrest info", () => {
    const info = JSON.stringify([{ name: 'main', backup: [{ label: '20261206-101500F', type: 'full', archive: { start: '000000030000000A000000F2', stop: '000000030000000A000000F3' }, lsn: { start: 'A/F2000028', stop: 'A/F3000100' }, timestamp: { start: 1, stop: 2 }, info: { size: 10 } }, { label: 'old', type: 'full' }] }]);
    expect(backupSets(info)).toEqual([
      { label: '20261206-101500F', type: 'full', startLsn: 'A/F2000028', timeline: 3, stopLsn: 'A/F3000100', stopTime: 2000, size: 10 },
      { label: 'old', type: 'full', startLsn: null, timeline: null, stopLsn: null, stopTime: null, size: 0 },
    ]);
  });
  it('always sets an exclusive target and never archives through restore_command quoting', () => {
    expect(targetSettings({ kind: 'xid', xid: '29519', inclusive: false, origin: 't' })).toEqual({
      recovery_target_xid: '29519',
      recovery_target_inclusive: false,
      // paused at the target, then promoted by pg_promote() (no end-of-recovery checkpoint); pausing needs hot_standby
      recovery_target_action: 'pause',
      hot_standby: true,
      recovery_target_timeline: 'latest',
    });
    expect(targetSettings({ kind: 'lsn', xid: '822', commitLsn: '0/EA9C168', inclusive: false, origin: 'locate: DROP DATABASE' })).toMatchObject({ recovery_target_lsn: '0/EA9C168' });
    expect(restoreCommandFor({ wal_archive: "/backups/it's wal" })).toBe(`cp '/backups/it'\\''s wal'/%f "%p"`);
  });
});
