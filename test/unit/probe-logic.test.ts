import { describe, expect, it } from 'vitest';
import { historyFileName, parseBackupLabel } from '../../src/sources/pitr/backup-label.js';
import { manifestEndLsn, parseManifest } from '../../src/sources/pitr/manifest.js';
import { analyzeGaps, listingFromNames, parseHistory, timelinePath } from '../../src/sources/common/wal-archive.js';
import { lastCommitIn } from '../../src/postgres/wal/commits.js';
import { deepReadFindings, plainHasTrailer, sizeDropFindings, sniffDump, sniffFindings } from '../../src/sources/dump/classify.js';
import { parseToc, tocTables } from '../../src/sources/common/toc.js';
import { rankResults } from '../../src/sources/rank.js';
import { aggregateItems } from '../../src/sources/common/aggregate.js';
import { timeFromPath } from '../../src/sources/snapshot/controldata.js';
import { assessReplica } from '../../src/sources/delayed-replica/probe.js';
import { parsePgbackrestInfo } from '../../src/sources/pgbackrest/info.js';
import { expandRestoreCommand } from '../../src/sources/common/restore-command.js';
import type { ProbeResult } from '../../src/sources/types.js';

const LABEL = `START WAL LOCATION: 0/9000028 (file 000000010000000000000009)
CHECKPOINT LOCATION: 0/9000060
BACKUP METHOD: streamed
BACKUP FROM: primary
START TIME: 2026-11-25 01:28:03 UTC
LABEL: lab plain base
START TIMELINE: 1
`;

describe('backup_label and .backup history', () => {
  it('parses start, checkpoint, time and timeline', () => {
    const l = parseBackupLabel(LABEL);
    expect(l).toMatchObject({ startLsn: '0/9000028', startSegment: '000000010000000000000009', checkpointLsn: '0/9000060', startTime: '2026-11-25T01:28:03.000Z', startTimeline: 1, label: 'lab plain base', stopLsn: null });
  });
  it('reads STOP WAL LOCATION from a history file and names it', () => {
    const h = parseBackupLabel(`${LABEL}STOP WAL LOCATION: 0/9000100 (file 000000010000000000000009)\nSTOP TIME: 2026-11-25 01:28:03 UTC\nSTOP TIMELINE: 1\n`);
    expect(h.stopLsn).toBe('0/9000100');
    expect(historyFileName('000000010000000000000009', '0/9000028')).toBe('000000010000000000000009.00000028.backup');
  });
  it('takes the end LSN from backup_manifest WAL-Ranges', () => {
    const m = parseManifest(`{ "PostgreSQL-Backup-Manifest-Version": 1,\n"Files": [\n{ "Path": "backup_label", "Size": 214 }\n],\n"WAL-Ranges": [\n{ "Timeline": 1, "Start-LSN": "0/9000028", "End-LSN": "0/9000100" }\n],\n"Manifest-Checksum": "5ba9"}`);
    expect(m.version).toBe(1);
    expect(manifestEndLsn(m)).toBe('0/9000100');
  });
});

describe('WAL archive gap analysis', () => {
  const seg = (n: number, tli = 1) => `${tli.toString(16).padStart(8, '0')}00000000${n.toString(16).toUpperCase().padStart(8, '0')}`;
  it('finds no gap in a complete run', () => {
    const l = listingFromNames([9, 10, 11, 12].map((n) => seg(n)));
    const g = analyzeGaps(l, 1, '0/9000028');
    expect(g.firstGap).toBeNull();
    expect(g.lastContiguous?.name).toBe(seg(12));
  });
  it('names the first missing segment and counts the others', () => {
    const l = listingFromNames([9, 10, 11, 13, 15, 16].map((n) => seg(n)).concat(['000000010000000000000009.00000028.backup']));
    const g = analyzeGaps(l, 1, '0/9000028');
    expect(g.firstGap?.name).toBe(seg(12));
    expect(g.missingCount).toBe(2);
    expect(g.missing).toEqual([seg(12), seg(14)]);
    expect(g.lastContiguous?.name).toBe(seg(11));
    expect(l.backupFiles).toHaveLength(1);
  });
  it('counts segments the backup carries itself', () => {
    const l = listingFromNames([10, 11].map((n) => seg(n)));
    expect(analyzeGaps(l, 1, '0/9000028').firstGap?.name).toBe(seg(9));
    expect(analyzeGaps(l, 1, '0/9000028', new Set([seg(9)])).firstGap).toBeNull();
  });
  it('follows a timeline switch from the history file', () => {
    const l = listingFromNames([seg(9), seg(10), seg(11), seg(11, 2), seg(12, 2)]);
    l.histories.set(2, parseHistory('1\t0/B000100\tno recovery target specified\n'));
    expect(timelinePath(l, 1).map((s) => s.tli)).toEqual([1, 2]);
    const g = analyzeGaps(l, 1, '0/9000028');
    expect(g.firstGap).toBeNull();
    expect(g.lastContiguous).toMatchObject({ name: seg(12, 2), tli: 2 });
  });
  it('treats gz-compressed segments as present', () => {
    const l = listingFromNames([`${seg(9)}.gz`, seg(10)]);
    expect(analyzeGaps(l, 1, '0/9000028').firstGap).toBeNull();
  });
  it('reads the last commit of pg_waldump output', () => {
    const out = `rmgr: Transaction len (rec/tot):     34/    34, tx:      29521, lsn: 0/1663BB28, prev 0/1663BAE8, desc: COMMIT 2026-11-25 01:42:48.900323 UTC
rmgr: Transaction len (rec/tot):     34/    34, tx:      29522, lsn: 0/1663BC28, prev 0/1663BB28, desc: ABORT 2026-11-25 01:42:49.000000 UTC\n`;
    expect(lastCommitIn(out)).toEqual({ time: '2026-11-25T01:42:48.900323Z', lsn: '0/1663BB28', xid: '29521' });
  });
  it('expands %f and %p in restore_command', () => {
    expect(expandRestoreCommand('cp /a/%f "%p" 100%%', 'X', '/t/X')).toBe('cp /a/X "/t/X" 100%');
  });
});

describe('dump classification', () => {
  it('recognizes the 14-byte error text, empty files, custom and plain dumps', () => {
    const err = Buffer.from('Access denied\n');
    const s = sniffDump(err, err.length);
    expect(s.kind).toBe('error-text');
    expect(sniffFindings(s, 14)[0]).toMatchObject({ level: 'error', code: 'DUMP_ERROR_TEXT' });
    const pg = Buffer.from('pg_dump: error: connection to server failed: FATAL:  password authentication failed for user "backup"\n');
    expect(sniffFindings(sniffDump(pg, pg.length), pg.length)[0]!.message).toContain('password authentication failed');
    expect(sniffDump(Buffer.alloc(0), 0).kind).toBe('empty');
    expect(sniffDump(Buffer.from('PGDMP\x01\x0e\x00'), 100)).toEqual({ kind: 'dump', format: 'custom' });
    expect(sniffDump(Buffer.from('--\n-- PostgreSQL database dump\n--\n'), 100)).toEqual({ kind: 'dump', format: 'plain' });
    expect(sniffDump(Buffer.from([0x1f, 0x8b, 8, 0]), 100)).toEqual({ kind: 'dump', format: 'plain-gzip' });
  });
  it('checks the plain trailer', () => {
    expect(plainHasTrailer('COPY …\n\\.\n\n--\n-- PostgreSQL database dump complete\n--\n\n')).toBe(true);
    expect(plainHasTrailer('INSERT INTO t VALUES (1')).toBe(false);
  });
  it('flags a dump much smaller than the previous ones, and truncation found by a full read', () => {
    expect(sizeDropFindings(1_358_616, [2_717_232, 2_700_000])[0]!.code).toBe('DUMP_SIZE_DROP');
    expect(sizeDropFindings(2_800_000, [2_717_232])).toEqual([]);
    expect(deepReadFindings(1, 'pg_restore: error: could not read from input file: end of file\n')[0]!.code).toBe('DUMP_TRUNCATED');
  });
  it('parses the TOC header and tables', () => {
    const toc = parseToc(`;
; Archive created at 2026-11-25 01:30:05 UTC
;     dbname: shop
;     TOC Entries: 25
;     Format: CUSTOM
;     Dumped from database version: 15.18 (Debian 15.18-0+deb12u1)
;
218; 1259 16412 TABLE public invoices postgres
3370; 0 16412 TABLE DATA public invoices postgres
3378; 0 0 SEQUENCE OWNED BY public shipment_events_id_seq postgres
214; 1259 16387 TABLE public shipments postgres
3223; 2606 16405 FK CONSTRAINT public shipment_events shipment_events_shipment_id_fkey postgres
`);
    expect(toc.createdAt).toBe('2026-11-25T01:30:05.000Z');
    expect(toc.serverVersion).toBe('15.18 (Debian 15.18-0+deb12u1)');
    expect(toc.entries.map((e) => e.desc)).toEqual(['TABLE', 'TABLE DATA', 'SEQUENCE OWNED BY', 'TABLE', 'FK CONSTRAINT']);
    expect(tocTables(toc)).toEqual([
      { schema: 'public', name: 'invoices', hasData: true },
      { schema: 'public', name: 'shipments', hasData: false },
    ]);
  });
});

describe('ranking and aggregation', () => {
  const r = (name: string, status: ProbeResult['status'], time: string | null, kind: ProbeResult['kind'] = 'dump'): ProbeResult => ({
    name, kind, status, recoveryPoint: time ? { time, lsn: null } : null, tables: [], findings: status === 'unusable' ? [{ level: 'error', code: 'X', message: 'broken' }] : [], durationMs: 1,
  });
  it('orders newest first, unusable last', () => {
    const out = rankResults([r('old', 'usable', '2026-01-01T00:00:00Z'), r('dead', 'unusable', '2026-12-01T00:00:00Z'), r('new', 'degraded', '2026-06-01T00:00:00Z'), r('none', 'usable', null)]);
    expect(out.map((x) => x.name)).toEqual(['new', 'old', 'none', 'dead']);
  });
  it('breaks ties by status, then the quickest kind', () => {
    const t = '2026-06-01T00:00:00Z';
    expect(rankResults([r('p', 'usable', t, 'pitr'), r('rep', 'usable', t, 'delayed-replica'), r('deg', 'degraded', t, 'delayed-replica')]).map((x) => x.name)).toEqual(['rep', 'p', 'deg']);
  });
  it('against a target, ranks by what each source would lose, not by how far its WAL reaches', () => {
    const pitr = { ...r('pitr', 'usable', '2026-06-01T00:10:00Z', 'pitr'), lossWindowMs: 0 };
    const replica = { ...r('replica', 'usable', '2026-06-01T00:00:00Z', 'delayed-replica'), lossWindowMs: 4000 };
    const dump = { ...r('dump', 'usable', '2026-05-31T00:00:00Z'), lossWindowMs: 86_400_000 };
    expect(rankResults([dump, replica, pitr]).map((x) => x.name)).toEqual(['pitr', 'replica', 'dump']);
    expect(rankResults([{ ...pitr }, { ...replica, lossWindowMs: 0 }]).map((x) => x.name)).toEqual(['replica', 'pitr']);
  });
  it('degrades a source whose newest item is broken, and keeps the item findings', () => {
    const agg = aggregateItems(
      [
        { label: 'new.dump', status: 'unusable', recoveryPoint: { time: '2026-11-25T00:00:00Z', lsn: null }, findings: [{ level: 'error', code: 'DUMP_ERROR_TEXT', message: 'error text' }] },
        { label: 'old.dump', status: 'usable', recoveryPoint: { time: '2026-11-22T00:00:00Z', lsn: null }, findings: [] },
      ],
      [],
      'dump',
    );
    expect(agg.status).toBe('degraded');
    expect(agg.chosen?.label).toBe('old.dump');
    expect(agg.findings.map((f) => f.code)).toEqual(['DUMP_ERROR_TEXT', 'NEWEST_UNUSABLE']);
  });
});

describe('snapshots, replicas, pgbackrest', () => {
  it('reads a snapshot time from its path', () => {
    expect(timeFromPath('/lab/snapshots/20261125T031657Z/pgdata')).toBe('2026-11-25T03:16:57.000Z');
    expect(timeFromPath('/mnt/snap-2026-11-25_0137/pgdata')).toBe('2026-11-25T01:37:00.000Z');
    expect(timeFromPath('/mnt/snapshots/daily/pgdata')).toBeNull();
  });
  const state = { versionNum: 150018, inRecovery: true, delayMs: 600_000, receiveLsn: '0/16000000', replayLsn: '0/15000000', lastReplayTime: '2026-11-25T03:10:00.000Z', pauseState: 'not paused', now: '2026-11-25T03:20:00.000Z', systemIdentifier: '1', receiverStatus: 'streaming', startupWait: 'Timeout/RecoveryApplyDelay', database: 'shipping' };
  const target = { kind: 'time' as const, time: '2026-11-25T03:17:50.000Z', inclusive: false as const, origin: 't' };
  it('computes the time left before a delayed replica replays the incident', () => {
    const a = assessReplica(state, [], { tables: [], target });
    expect(a.timeLeftMs).toBe(470_000);
    expect(a.reachesTarget).toBe(true);
    expect(a.findings.some((f) => f.level === 'error')).toBe(false);
  });
  it('refuses a replica without delay and one past the incident', () => {
    expect(assessReplica({ ...state, delayMs: 0 }, [], { tables: [] }).findings.find((f) => f.level === 'error')?.code).toBe('REPLICA_NO_DELAY');
    expect(assessReplica({ ...state, lastReplayTime: '2026-11-25T03:18:00.000Z' }, [], { tables: [], target }).findings.find((f) => f.level === 'error')?.code).toBe('REPLICA_PAST_INCIDENT');
    expect(assessReplica({ ...state, inRecovery: false }, [], { tables: [] }).findings[0]!.code).toBe('NOT_A_STANDBY');
  });
  it('reports the lock trap as degraded', () => {
    const a = assessReplica(state, [{ oid: 16387, schema: 'public', name: 'shipments' }], { tables: [{ name: 'shipments' }] });
    expect(a.findings.find((f) => f.code === 'REPLICA_LOCK_TRAP')?.level).toBe('warn');
  });
  it('parses pgbackrest info and keeps the system identifier exact', () => {
    const st = parsePgbackrestInfo(
      '[{"archive":[{"database":{"id":1,"repo-key":1},"id":"15-1","max":"000000010000000000000015","min":"000000010000000000000003"}],"backup":[{"archive":{"start":"000000010000000000000005","stop":"000000010000000000000005"},"error":false,"info":{"size":31000000,"repository":{"size":4000000}},"label":"20261125-031700F","lsn":{"start":"0/5000028","stop":"0/5000100"},"timestamp":{"start":1764040620,"stop":1764040625},"type":"full"}],"db":[{"id":1,"repo-key":1,"system-id":7711942763190026395,"version":"15"}],"name":"lab","status":{"code":0,"message":"ok"}}]',
      'lab',
    )!;
    expect(st.systemId).toBe('7711942763190026395');
    expect(st.archiveMax).toBe('000000010000000000000015');
    expect(st.backups[0]).toMatchObject({ label: '20261125-031700F', type: 'full', stopLsn: '0/5000100', sizeBytes: 31000000 });
  });
});
