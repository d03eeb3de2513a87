// The trust rules as pure logic: times with zones, the DBA's target flags,
// which destructive event is the incident, and the identity verdict.
import { describe, expect, it } from 'vitest';
import { isUndropError } from '../../src/errors.js';
import { parseTableList } from '../../src/postgres/identifiers.js';
import { identityEventFor, judgeIdentity } from '../../src/recovery/identity.js';
import type { LocatedEvent } from '../../src/recovery/locate/index.js';
import { classifyEvent, isUndropEvent, rankEvents, unnamedReason } from '../../src/recovery/locate/rank.js';
import type { EventRelation } from '../../src/recovery/locate/types.js';
import { describeTarget, parseTargetSpec, resolveExplicit, targetFromFlags } from '../../src/sources/target.js';
import { parseZonedTime } from '../../src/util/time.js';

function usage(fn: () => unknown): { code: string; hint?: string; exit: number } {
  try {
    fn();
  } catch (e) {
    if (isUndropError(e)) return { code: e.code, hint: e.hint, exit: e.exitCode };
    throw e;
  }
  throw new Error('did not throw');
}

describe('times typed by a person', () => {
  it('needs a zone, keeps microseconds, answers in UTC', () => {
    expect(parseZonedTime('2026-11-25T01:42:48Z')).toEqual({ iso: '2026-11-25T01:42:48.000Z' });
    expect(parseZonedTime('2026-11-25 02:42:48.123456+01')).toEqual({ iso: '2026-11-25T01:42:48.123456Z' });
    expect(parseZonedTime('2026-11-25 01:42:48.5 UTC')).toEqual({ iso: '2026-11-25T01:42:48.500Z' });
    expect(parseZonedTime('2026-11-24T20:12:48.000001-05:30')).toEqual({ iso: '2026-11-25T01:42:48.000001Z' });
    expect(parseZonedTime('2026-11-25 01:42')).toEqual({ error: 'no-zone' });
    expect(parseZonedTime('2026-11-25T01:42:48')).toEqual({ error: 'no-zone' });
    expect(parseZonedTime('1')).toEqual({ error: 'invalid' });
    expect(parseZonedTime('2026-02-30T00:00:00Z')).toEqual({ error: 'invalid' });
    expect(parseZonedTime('yesterday')).toEqual({ error: 'invalid' });
  });

  it('--target time: without a zone, or time:1, is bad input (exit 2) with an example', () => {
    const noZone = usage(() => parseTargetSpec('time:2026-11-25 01:42'));
    expect(noZone).toMatchObject({ code: 'TIME_ZONE_MISSING', exit: 2 });
    expect(noZone.hint).toContain('2026-11-25T01:42Z');
    expect(usage(() => parseTargetSpec('time:1'))).toMatchObject({ code: 'TIME_INVALID', exit: 2 });
    expect(parseTargetSpec('time:2026-11-25T01:42:48.654321Z')).toEqual({ kind: 'time', time: '2026-11-25T01:42:48.654321Z' });
  });
});

describe("the DBA's target flags", () => {
  it('map to the same targets as --target SPEC', () => {
    expect(targetFromFlags({ targetXid: '745' })).toEqual({ kind: 'xid', xid: '745' });
    expect(targetFromFlags({ targetLsn: '0/16636a70' })).toEqual({ kind: 'lsn', lsn: '0/16636A70' });
    expect(targetFromFlags({ targetTime: '2026-11-25 02:42:48.1+01:00' })).toEqual({ kind: 'time', time: '2026-11-25T01:42:48.100Z' });
    expect(targetFromFlags({ targetName: 'before_migration' })).toEqual({ kind: 'name', name: 'before_migration' });
    expect(targetFromFlags({ targetXid: '745', targetTimeline: '2' })).toEqual({ kind: 'xid', xid: '745', timeline: '2' });
    expect(targetFromFlags({})).toEqual({ kind: 'before-incident' });
    expect(parseTargetSpec('name:nightly')).toEqual({ kind: 'name', name: 'nightly' });
  });

  it('refuse two points at once, a bad timeline, a zoneless --target-time', () => {
    expect(usage(() => targetFromFlags({ target: 'latest', targetXid: '1' }))).toMatchObject({ code: 'TARGET_CONFLICT', exit: 2 });
    expect(usage(() => targetFromFlags({ targetXid: '1', targetLsn: '0/1' }))).toMatchObject({ code: 'TARGET_CONFLICT' });
    expect(usage(() => targetFromFlags({ targetTimeline: 'newest' }))).toMatchObject({ code: 'TIMELINE_INVALID', exit: 2 });
    expect(usage(() => targetFromFlags({ targetTime: '2026-11-25 01:42' }))).toMatchObject({ code: 'TIME_ZONE_MISSING', exit: 2 });
  });

  it('echo the target in UTC', () => {
    expect(describeTarget(resolveExplicit({ kind: 'time', time: '2026-11-25T01:42:48.123456Z' }))).toBe('before 2026-11-25 01:42:48.123456 UTC (--target time:2026-11-25T01:42:48.123456Z)');
    expect(describeTarget(resolveExplicit({ kind: 'name', name: 'nightly', timeline: '2' }))).toContain('restore point "nightly", timeline 2');
  });
});

const rel = (name: string | null, relfilenode: number, extra: Partial<EventRelation> = {}): EventRelation => ({ name, relfilenode, files: [relfilenode], ...extra });
const ev = (commitLsn: string, relations: EventRelation[]) => ({ commitLsn, relations });

describe('which event is the incident', () => {
  const tables = parseTableList('shipments,"Sales"."Order Items"');
  const incident = ev('0/3000000', [rel('public.shipments', 16400, { rows: 3000, rowsKind: 'exact' }), rel('"Sales"."Order Items"', 16500)]);
  const sideSchemaDrop = ev('0/5000000', [rel(null, 17000), rel(null, 17003)]);
  const scratch = ev('0/6000000', [rel(null, 17100, { bornAt: '0/5800000' })]);
  const truncateOfOther = ev('0/7000000', [rel('public.carriers', 16390)]);
  const unknownOrigin = ev('0/4000000', [rel(null, 16999)]);

  it('a named event that names a requested table beats every unnamed one, however new', () => {
    expect(rankEvents([sideSchemaDrop, scratch, incident, truncateOfOther, unknownOrigin], tables)).toEqual([incident, sideSchemaDrop, unknownOrigin, scratch]);
  });

  it('unnamed events: unknown origin before files born in the scanned WAL by a plain CREATE', () => {
    expect(classifyEvent(unknownOrigin, tables)).toBe('unnamed');
    expect(classifyEvent(scratch, tables)).toBe('unnamed-new');
    expect(classifyEvent(ev('0/1', [rel(null, 1, { bornAt: '0/0', bornByRewrite: true })]), tables)).toBe('unnamed');
    expect(unnamedReason(scratch)).toMatch(/created after the newest catalog/);
    expect(unnamedReason(incident)).toBeUndefined();
  });

  it('without --tables: named events first, newest first, then unnamed ones; DROP DATABASE only then', () => {
    const dropDatabase = ev('0/8000000', []);
    expect(rankEvents([sideSchemaDrop, incident, truncateOfOther, dropDatabase], [])).toEqual([dropDatabase, truncateOfOther, incident, sideSchemaDrop]);
    expect(rankEvents([dropDatabase, incident], tables)).toEqual([incident]);
  });

  it("undrop's own side schemas (undrop_*, or recorded in an incident folder) are never incidents", () => {
    expect(isUndropEvent(ev('0/1', [rel('undrop_20261125_024512.shipments', 1), rel('undrop_20261125_024512.invoices', 2)]))).toBe(true);
    expect(isUndropEvent(ev('0/1', [rel('rec_pitr.shipments', 1)]), new Set(['rec_pitr']))).toBe(true);
    expect(isUndropEvent(ev('0/1', [rel('rec_pitr.shipments', 1), rel(null, 2)]), new Set(['rec_pitr']))).toBe(false);
    // a table added to the side schema later (born after the catalog by a plain CREATE) does not hide it
    expect(isUndropEvent(ev('0/1', [rel('rec_pitr.shipments', 1), rel(null, 2, { bornAt: '0/0' })]), new Set(['rec_pitr']))).toBe(true);
    expect(isUndropEvent(ev('0/1', [rel(null, 2, { bornAt: '0/0' })]))).toBe(false);
    expect(isUndropEvent(incident)).toBe(false);
  });
});

describe('the identity verdict', () => {
  const event = {
    kind: 'drop',
    xid: '900',
    commitTime: '2026-11-25T01:42:48.000Z',
    relations: [rel('public.shipments', 16400, { files: [16400, 16403, 16405], rows: 3000, rowsKind: 'exact' })],
  } as unknown as LocatedEvent;
  const base = { tables: parseTableList('shipments'), targetOrigin: 'locate', sourceKind: 'pitr', sourceName: 'pitr', event };
  const m = (rows: number, time = '2026-11-25T01:40:00.000Z') => ({ recoveryPoint: { time, lsn: null }, tables: [{ name: 'public.shipments', rows }] });

  it('proven by the relfilenode the event removed, or by its row count', () => {
    expect(judgeIdentity({ ...base, materialized: m(2990), relfilenodes: new Map([['public.shipments', 16400]]) })[0]!.status).toBe('proven');
    expect(judgeIdentity({ ...base, materialized: m(3000), relfilenodes: new Map([['public.shipments', 17001]]) })[0]!.status).toBe('proven');
  });

  it('failed for a successor: another file, another count (the message names both)', () => {
    const [r] = judgeIdentity({ ...base, materialized: m(12), relfilenodes: new Map([['public.shipments', 17001]]) });
    expect(r!.status).toBe('failed');
    expect(r!.reason).toContain('17001');
    expect(r!.reason).toContain('16400');
  });

  it('not proven without a located event; dumps: proven only when taken before the event', () => {
    expect(judgeIdentity({ ...base, event: undefined, targetOrigin: '--target time:…', materialized: m(1), relfilenodes: new Map() })[0]!.status).toBe('not-proven');
    expect(judgeIdentity({ ...base, sourceKind: 'dump', materialized: m(1), relfilenodes: new Map() })[0]!.status).toBe('proven');
    expect(judgeIdentity({ ...base, sourceKind: 'dump', materialized: m(1, '2026-11-25T02:00:00.000Z'), relfilenodes: new Map() })[0]!.status).toBe('failed');
  });
});

describe('which event a hand-given target is checked against', () => {
  const e = (xid: string, commitLsn: string, commitTime: string) => ({ xid, commitLsn, commitTime }) as unknown as LocatedEvent;
  const older = e('100', '0/2000000', '2026-11-25T01:00:00.000Z');
  const incident = e('200', '0/3000000', '2026-11-25T02:00:00.000Z');
  const sideSchemaDrop = e('300', '0/5000000', '2026-11-25T03:00:00.000Z');
  const named = [incident, older];
  const all = [sideSchemaDrop, incident, older];
  const t = (x: object) => ({ inclusive: false as const, origin: 'test', ...x });

  it('the first event naming the tables at or after the target', () => {
    expect(identityEventFor(t({ kind: 'time', time: '2026-11-25T01:30:00Z' }), named, all)).toBe(incident);
    expect(identityEventFor(t({ kind: 'time', time: '2026-11-25T00:30:00Z' }), named, all)).toBe(older);
    expect(identityEventFor(t({ kind: 'xid', xid: '200' }), named, all)).toBe(incident);
    expect(identityEventFor(t({ kind: 'lsn', commitLsn: '0/2800000' }), named, all)).toBe(incident);
  });

  it('forced past the incident (the side-schema drop\'s xid, latest): the newest, which the check then fails', () => {
    expect(identityEventFor(t({ kind: 'xid', xid: '300' }), named, all)).toBe(incident);
    expect(identityEventFor(t({ kind: 'latest' }), named, all)).toBe(incident);
  });

  it("forced past it onto another table's DROP (not among the tables' events): placed by the scan's commit LSN, still the incident", () => {
    expect(identityEventFor(t({ kind: 'xid', xid: '400' }), named, all, '0/6000000')).toBe(incident);
    expect(identityEventFor(t({ kind: 'xid', xid: '400' }), named, all, '0/1000000')).toBe(older);
  });

  it('unknown position or nothing named: no event (identity not proven)', () => {
    expect(identityEventFor(t({ kind: 'xid', xid: '999' }), named, all)).toBeUndefined();
    expect(identityEventFor(t({ kind: 'name', name: 'x' }), named, all)).toBeUndefined();
    expect(identityEventFor(t({ kind: 'latest' }), [], all)).toBeUndefined();
  });
});

describe('a delayed replica that replayed no commit since it started', () => {
  it('reports the time of its last replayed checkpoint (a lower bound), never now − delay', async () => {
    const { assessReplica } = await import('../../src/sources/delayed-replica/probe.js');
    const state = { versionNum: 150018, inRecovery: true, delayMs: 20 * 60_000, receiveLsn: '0/16000000', replayLsn: '0/15000000', lastReplayTime: null, checkpointTime: '2026-11-25T03:19:00.000Z', pauseState: 'paused', now: '2026-11-25T03:20:00.000Z', systemIdentifier: '1', receiverStatus: 'streaming', startupWait: null, database: 'shipping' };
    const a = assessReplica(state, [], { tables: [] });
    expect(a.recoveryPoint).toMatchObject({ time: '2026-11-25T03:19:00.000Z', lsn: '0/15000000' });
    expect(a.recoveryPoint!.basis).toMatch(/checkpoint/);
    expect(assessReplica({ ...state, checkpointTime: null }, [], { tables: [] }).recoveryPoint!.time).toBeNull();
    // better: the last commit at or before the replay position, read from WAL
    const fromWal = assessReplica(state, [], { tables: [] }, { time: '2026-11-25T03:19:42.123456Z', lsn: '0/14FFFF00' });
    expect(fromWal.recoveryPoint).toMatchObject({ time: '2026-11-25T03:19:42.123456Z', lsn: '0/15000000' });
    expect(fromWal.recoveryPoint!.basis).toMatch(/read from WAL/);
  });
});

describe('targets as recovery settings', () => {
  it('a restore point and a timeline reach PostgreSQL and pgBackRest as such', async () => {
    const { targetSettings } = await import('../../src/sources/materialize/target-settings.js');
    expect(targetSettings(resolveExplicit({ kind: 'name', name: 'before_migration', timeline: '2' }))).toEqual({ recovery_target_name: 'before_migration', recovery_target_action: 'pause', hot_standby: true, recovery_target_timeline: '2' });
    expect(targetSettings(resolveExplicit({ kind: 'xid', xid: '745' }))).toMatchObject({ recovery_target_xid: '745', recovery_target_inclusive: false, recovery_target_timeline: 'latest' });
    expect(targetSettings(resolveExplicit({ kind: 'time', time: '2026-11-25T01:42:48.123456Z' }))).toMatchObject({ recovery_target_time: '2026-11-25 01:42:48.123456+00' });
  });
});

describe('file lineage', () => {
  it('a file a rewrite made is named after the table whose files it replaced (through several rewrites)', async () => {
    const { nameByLineage } = await import('../../src/recovery/locate/lineage.js');
    const births = new Map([
      [300, { lsn: '0/3000000', xid: 30, replaced: [200] }], // TRUNCATE again
      [200, { lsn: '0/2000000', xid: 20, replaced: [100, 101] }], // VACUUM FULL of the table the catalog knows as 100
      [400, { lsn: '0/4000000', xid: 40, replaced: [] }], // a plain CREATE: no ancestor
    ]);
    const catalog = async (files: number[]) => (files.includes(100) ? [rel('public.shipments', 100, { oid: 100, relkind: 'r', files: [100, 101] })] : []);
    const notes: string[] = [];
    const out = await nameByLineage([rel(null, 300), rel(null, 400)], births, catalog, notes);
    expect(out.map((r) => [r.name, r.relfilenode])).toEqual([['public.shipments', 300], [null, 400]]);
    expect(notes[0]).toMatch(/file lineage/);
  });

  it('a transaction that rewrote several tables gives no single ancestor', async () => {
    const { nameByLineage } = await import('../../src/recovery/locate/lineage.js');
    const births = new Map([[300, { lsn: '0/3000000', xid: 30, replaced: [100, 200] }]]);
    const out = await nameByLineage([rel(null, 300)], births, async () => [rel('public.a', 100), rel('public.b', 200)], []);
    expect(out[0]!.name).toBeNull();
  });
});

describe('the guided picker', () => {
  it('opens on the named events; unnamed ones are folded under one line that says why', async () => {
    const { eventPrompt } = await import('../../src/cli/guided/prompts.js');
    const e = (xid: string, names: (string | null)[], unnamedReason?: string) =>
      ({ xid, kind: 'drop', commitTime: `2026-11-25T0${xid}:00:00.000Z`, rowsLost: null, recreated: [], database: { oid: 5, name: 'shop' }, relations: names.map((n, i) => rel(n, 100 + i)), ...(unnamedReason ? { unnamedReason } : {}) }) as unknown as LocatedEvent;
    const events = [e('1', ['public.shipments']), e('2', [null, null], 'no catalog from before it knows its files'), e('3', [null], 'no catalog from before it knows its files')];
    const choices = eventPrompt(events, [], Date.parse('2026-11-25T04:00:00Z')).choices;
    expect(choices).toHaveLength(2);
    expect(choices[0]!.value).toBe(events[0]);
    expect(choices[0]!.name).toContain('public.shipments');
    expect(choices[1]!.value).toBe('unnamed');
    expect(choices[1]!.name).toBe('2 more without table names (no catalog from before it knows its files) …');
  });
});
