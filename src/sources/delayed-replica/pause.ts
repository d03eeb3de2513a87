// Pausing a delayed replica: the only change undrop ever makes to it.
// pg_get_wal_replay_pause_state() (not pg_is_wal_replay_paused(), which says
// true for a pause only requested) tells when the pause took effect. While the
// startup process sleeps out recovery_min_apply_delay before a COMMIT, a
// requested pause takes effect when the delay expires — before that commit is
// applied — so "pause requested" during RecoveryApplyDelay is already safe.
import type pg from 'pg';
import { failure } from '../../errors.js';
import { sleep } from '../../util/time.js';

export interface PauseState {
  state: 'paused' | 'pause requested' | 'not paused';
  startupWait: string | null;
  replayLsn: string | null;
  replayTime: string | null;
  pausedAt: string;
}

export async function readPauseState(c: pg.Client): Promise<PauseState> {
  const r = await c.query(`select pg_get_wal_replay_pause_state() as state,
      (select wait_event from pg_stat_activity where backend_type = 'startup') as wait,
      pg_last_wal_replay_lsn()::text as lsn, pg_last_xact_replay_timestamp() as ts, now() as now`);
  const row = r.rows[0];
  return { state: row.state, startupWait: row.wait, replayLsn: row.lsn, replayTime: row.ts ? row.ts.toISOString() : null, pausedAt: row.now.toISOString() };
}

/** Pause replay and wait until it holds (paused, or held by the apply delay). */
export async function pauseReplay(c: pg.Client, waitMs = 10_000): Promise<PauseState> {
  const inRecovery = await c.query('select pg_is_in_recovery() as r');
  if (!inRecovery.rows[0].r) {
    throw failure('NOT_A_STANDBY', 'The delayed-replica source is not in recovery: it is a primary, not a standby.', { hint: 'Check the DSN of the delayed-replica source in the inventory.' });
  }
  await c.query('select pg_wal_replay_pause()');
  const until = Date.now() + waitMs;
  let s = await readPauseState(c);
  while (s.state !== 'paused' && Date.now() < until) {
    if (s.state === 'pause requested' && s.startupWait === 'RecoveryApplyDelay') return s;
    await sleep(100);
    s = await readPauseState(c);
  }
  if (s.state === 'not paused') throw failure('PAUSE_FAILED', 'Replay could not be paused on the delayed replica.', { hint: 'Pause it by hand: select pg_wal_replay_pause();' });
  return s;
}

/** Relations of the wanted tables that the startup process holds AccessExclusiveLocks on (the lock trap). */
export async function lockedByStartup(c: pg.Client, regclasses: string[]): Promise<string[]> {
  if (regclasses.length === 0) return [];
  const r = await c.query<{ rel: string }>(
    `select l.relation::regclass::text as rel from pg_locks l join pg_stat_activity a on a.pid = l.pid
      where a.backend_type = 'startup' and l.locktype = 'relation' and l.mode = 'AccessExclusiveLock'
        and l.database = (select oid from pg_database where datname = current_database())
        and l.relation = any (select to_regclass(x) from unnest($1::text[]) x)`,
    [regclasses],
  );
  return r.rows.map((x) => x.rel);
}

/** What `undrop pause` / the guided flow did to one delayed replica. */
export interface ReplicaPauseOutcome {
  name: string;
  /** paused: undrop paused it now; already-paused; held: pause requested while replay waits out the delay (takes effect before the next commit); not-delayed: no apply delay, nothing to protect; failed: unreachable, not a standby, or the pause did not hold. */
  outcome: 'paused' | 'already-paused' | 'held' | 'not-delayed' | 'failed';
  /** True when replay cannot move toward the incident any more (or never could). */
  safe: boolean;
  delayMs: number | null;
  /** Last replayed commit: the replica holds everything committed before it. */
  replayTime: string | null;
  replayLsn: string | null;
  /** How far replay ran behind when it was paused (now − last replayed commit). */
  lagMs: number | null;
  /** With an incident time: how long before replay would have applied it (incident + delay − paused at). */
  leftMs: number | null;
  pausedAt: string | null;
  error?: { code: string; message: string; hint?: string };
}

export interface ResumeOutcome {
  name: string;
  outcome: 'resumed' | 'not-paused' | 'failed';
  replayTime: string | null;
  delayMs: number | null;
  error?: { code: string; message: string; hint?: string };
}

async function delayOf(c: pg.Client): Promise<{ rec: boolean; delayMs: number }> {
  const r = await c.query("select pg_is_in_recovery() as rec, (select setting::bigint from pg_settings where name = 'recovery_min_apply_delay') as d");
  return { rec: !!r.rows[0].rec, delayMs: Number(r.rows[0].d ?? 0) };
}

/**
 * Pause one replica if its replay is delayed (one that replays at once is left
 * alone: it may serve reads and protects nothing). `incidentTime` (ISO) adds
 * how long replay had left before applying it.
 */
export async function pauseDelayedReplica(c: pg.Client, name: string, incidentTime?: string): Promise<ReplicaPauseOutcome> {
  const { rec, delayMs } = await delayOf(c);
  const none = { name, delayMs, replayTime: null, replayLsn: null, lagMs: null, leftMs: null, pausedAt: null };
  if (!rec) {
    return { ...none, outcome: 'failed', safe: false, error: { code: 'NOT_A_STANDBY', message: 'not in recovery: it is a primary (or was promoted), not a delayed standby', hint: 'Check its dsn in undrop.yaml.' } };
  }
  if (delayMs <= 0) return { ...none, outcome: 'not-delayed', safe: true };
  const before = await readPauseState(c);
  const s = before.state === 'paused' ? before : await pauseReplay(c);
  const outcome = before.state === 'paused' ? 'already-paused' : s.state === 'paused' ? 'paused' : 'held';
  const at = Date.parse(s.pausedAt);
  return {
    name,
    outcome,
    safe: true,
    delayMs,
    replayTime: s.replayTime,
    replayLsn: s.replayLsn,
    lagMs: s.replayTime ? at - Date.parse(s.replayTime) : null,
    leftMs: incidentTime ? Date.parse(incidentTime) + delayMs - at : null,
    pausedAt: s.pausedAt,
  };
}

/** Resume replay: the replica then catches up and applies the incident after its delay. */
export async function resumeReplica(c: pg.Client, name: string): Promise<ResumeOutcome> {
  const { rec, delayMs } = await delayOf(c);
  if (!rec) return { name, outcome: 'failed', replayTime: null, delayMs, error: { code: 'NOT_A_STANDBY', message: 'not in recovery: nothing to resume' } };
  const s = await readPauseState(c);
  if (s.state === 'not paused') return { name, outcome: 'not-paused', replayTime: s.replayTime, delayMs };
  await c.query('select pg_wal_replay_resume()');
  return { name, outcome: 'resumed', replayTime: s.replayTime, delayMs };
}
