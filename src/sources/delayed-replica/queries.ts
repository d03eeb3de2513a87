// Read-only queries against a delayed standby. Every one runs under the
// session's statement_timeout and lock_timeout, so a probe never hangs on the
// startup process's locks.
import type pg from 'pg';

export interface ReplicaState {
  versionNum: number;
  inRecovery: boolean;
  /** recovery_min_apply_delay in milliseconds. */
  delayMs: number;
  receiveLsn: string | null;
  replayLsn: string | null;
  /** pg_last_xact_replay_timestamp(): NULL until the first commit is replayed. */
  lastReplayTime: string | null;
  /** Time of the last checkpoint/restartpoint the replica replayed (pg_control_checkpoint()): a lower bound of its state. */
  checkpointTime?: string | null;
  /** Timeline the replica replays (pg_control_checkpoint().timeline_id). */
  timeline?: number | null;
  /** 'not paused' | 'pause requested' | 'paused' (pg_get_wal_replay_pause_state; PostgreSQL 14+). */
  pauseState: string;
  now: string;
  systemIdentifier: string | null;
  receiverStatus: string | null;
  startupWait: string | null;
  database: string;
}

export interface StartupLock {
  schema: string | null;
  name: string | null;
  oid: number;
}

const iso = (v: unknown): string | null => (v instanceof Date ? v.toISOString() : v === null || v === undefined ? null : new Date(String(v)).toISOString());

export async function readReplicaState(c: pg.Client): Promise<ReplicaState> {
  const v = await c.query<{ n: number }>("select current_setting('server_version_num')::int as n");
  const versionNum = v.rows[0]!.n;
  const pause = versionNum >= 140000 ? 'pg_get_wal_replay_pause_state()' : "case when pg_is_wal_replay_paused() then 'paused' else 'not paused' end";
  const r = await c.query(
    `select pg_is_in_recovery() as in_recovery,
            (select setting::bigint from pg_settings where name = 'recovery_min_apply_delay') as delay_ms,
            pg_last_wal_receive_lsn()::text as receive_lsn,
            pg_last_wal_replay_lsn()::text as replay_lsn,
            pg_last_xact_replay_timestamp() as last_replay,
            case when pg_is_in_recovery() then ${pause} else 'not paused' end as pause_state,
            now() as now,
            (select checkpoint_time from pg_control_checkpoint()) as checkpoint_time,
            (select timeline_id from pg_control_checkpoint()) as timeline,
            (select system_identifier::text from pg_control_system()) as system_id,
            (select status from pg_stat_wal_receiver limit 1) as receiver_status,
            (select coalesce(wait_event_type || '/' || wait_event, 'running') from pg_stat_activity where backend_type = 'startup' limit 1) as startup_wait,
            current_database() as db`,
  );
  const row = r.rows[0];
  return {
    versionNum,
    inRecovery: row.in_recovery,
    delayMs: Number(row.delay_ms ?? 0),
    receiveLsn: row.receive_lsn,
    replayLsn: row.replay_lsn,
    lastReplayTime: iso(row.last_replay),
    checkpointTime: iso(row.checkpoint_time),
    timeline: row.timeline === null || row.timeline === undefined ? null : Number(row.timeline),
    pauseState: row.pause_state,
    now: iso(row.now)!,
    systemIdentifier: row.system_id,
    receiverStatus: row.receiver_status,
    startupWait: row.startup_wait,
    database: row.db,
  };
}

/**
 * Relations of this database on which the startup process holds an
 * AccessExclusiveLock: the replayed Standby LOCK records of a transaction
 * whose COMMIT is still held back by the delay. Reading them blocks.
 */
export async function startupLocks(c: pg.Client): Promise<StartupLock[]> {
  const r = await c.query<{ oid: number; nspname: string | null; relname: string | null }>(
    `select l.relation::int as oid, n.nspname, cl.relname
       from pg_locks l
       join pg_stat_activity a on a.pid = l.pid
       left join pg_class cl on cl.oid = l.relation
       left join pg_namespace n on n.oid = cl.relnamespace
      where a.backend_type = 'startup' and l.locktype = 'relation' and l.mode = 'AccessExclusiveLock'
        and l.database = (select oid from pg_database where datname = current_database())
      order by 1`,
  );
  return r.rows.map((x) => ({ oid: x.oid, schema: x.nspname, name: x.relname }));
}
