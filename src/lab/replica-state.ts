// The lab's delayed replica in a known state at the incident. On its own the
// state depends on timing (the lock trap, shared notes §3): recovery_min_apply_delay
// holds back COMMIT records only, so whether the paused replica already holds
// the DROP's replayed AccessExclusiveLocks depends on which commits came
// before the incident's first record and how old they are. Here it is made
// exact:
// - 'paused-before-incident': the application is stopped (workload and
//   autovacuum, so no commit lands between), the replica applies everything
//   (delay 0 for a moment) and is paused; then the incident runs. The replica
//   holds exactly the pre-incident tables and no lock: it is readable.
// - 'holding-incident-locks': from there, replay resumes with the lab's delay:
//   the incident's lock records are replayed at once, its COMMIT waits out
//   the delay, and the replica is paused there (the trap, as on an idle primary).
// The application is started again right after the incident's COMMIT: what
// it writes then comes after the DROP and cannot move the replica toward it.
import { readFile } from 'node:fs/promises';
import type pg from 'pg';
import { failure, usageError } from '../errors.js';
import { withClient } from '../postgres/connect.js';
import type { ConnParams } from '../postgres/conninfo.js';
import { Lsn } from '../postgres/wal/lsn.js';
import { findBinaries } from '../postgres/binaries.js';
import { lockedByStartup } from '../sources/delayed-replica/pause.js';
import { sleep } from '../util/time.js';
import { INCIDENT_TABLES, LAB_DATABASE } from './dataset.js';
import { labIncident, type Truth } from './incident.js';
import { labLayout } from './layout.js';
import { requireState, saveState, type LabState } from './state.js';
import { startWorkload, stopWorkload } from './workload.js';

export type ReplicaIncidentState = 'paused-before-incident' | 'holding-incident-locks';

export interface ReplicaPosition {
  pauseState: string;
  startupWait: string | null;
  replayLsn: string;
  /** Incident tables whose AccessExclusiveLock the replica's startup process holds. */
  lockedTables: string[];
}

function serverConn(state: LabState, which: 'primary' | 'replica', database = LAB_DATABASE): ConnParams {
  const s = state[which];
  if (!s) throw usageError('LAB_NO_REPLICA', `This lab has no ${which === 'replica' ? 'delayed replica' : 'primary'} (scenario "${state.scenario}").`);
  return { host: state.socketDir, port: s.port, user: s.superuser, database };
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw failure('LAB_REPLICA_STATE', `The lab's replica did not reach its state: ${what} (waited ${timeoutMs / 1000} s).`);
    await sleep(200);
  }
}

export async function readReplicaPosition(c: pg.Client): Promise<ReplicaPosition> {
  const r = await c.query<{ s: string; w: string | null; l: string }>(
    "select pg_get_wal_replay_pause_state() as s, (select wait_event from pg_stat_activity where backend_type = 'startup') as w, pg_last_wal_replay_lsn()::text as l",
  );
  const row = r.rows[0]!;
  return { pauseState: row.s, startupWait: row.w, replayLsn: row.l, lockedTables: await lockedByStartup(c, [...INCIDENT_TABLES]) };
}

/** Stop every writer of the lab's primary: the workload (by pid) and autovacuum. Returns how to start them again. */
async function quiesce(dir: string, state: LabState): Promise<() => Promise<void>> {
  const primary = serverConn(state, 'primary', 'postgres');
  const hadWorkload = !!state.workload;
  if (state.workload) await stopWorkload(state.workload.pid);
  await withClient(primary, async (c) => {
    await c.query('ALTER SYSTEM SET autovacuum = off');
    await c.query('SELECT pg_reload_conf()');
    // A killed client's last statement still commits: wait for its backend. Running autovacuum
    // workers are cancelled (their transaction aborts: nothing commits).
    await until('the workload and autovacuum workers to finish', 120_000, async () => {
      await c.query("select pg_cancel_backend(pid) from pg_stat_activity where backend_type = 'autovacuum worker'");
      const r = await c.query<{ n: number }>("select count(*)::int as n from pg_stat_activity where application_name = 'lab-workload' or backend_type = 'autovacuum worker'");
      return r.rows[0]!.n === 0 ? true : undefined;
    });
  });
  return async () => {
    await withClient(primary, async (c) => {
      await c.query('ALTER SYSTEM RESET autovacuum');
      await c.query('SELECT pg_reload_conf()');
    });
    if (!hadWorkload) return;
    const layout = labLayout(dir);
    const fresh = await requireState(layout);
    const bin = await findBinaries(fresh.pg.major);
    const w = await startWorkload(bin, layout, { socketDir: fresh.socketDir, port: fresh.primary!.port, user: fresh.primary!.superuser });
    fresh.workload = { ...fresh.workload!, pid: w.pid, startedAt: new Date().toISOString() };
    await saveState(layout, fresh);
  };
}

/** Apply everything the primary wrote so far (the delay set to 0 for a moment), then pause. The writers must be stopped. */
async function catchUpAndPause(state: LabState): Promise<ReplicaPosition> {
  const primary = serverConn(state, 'primary', 'postgres');
  const target = (await withClient(primary, (c) => c.query<{ l: string }>('select pg_current_wal_insert_lsn()::text as l'))).rows[0]!.l;
  return withClient(serverConn(state, 'replica'), async (c) => {
    const delay = (await c.query<{ d: string }>("select current_setting('recovery_min_apply_delay') as d")).rows[0]!.d;
    await c.query("ALTER SYSTEM SET recovery_min_apply_delay = '0'");
    await c.query('SELECT pg_reload_conf()');
    try {
      await until(`replay to reach ${target}`, 120_000, async () => {
        const p = await readReplicaPosition(c);
        return Lsn.before(p.replayLsn, target) ? undefined : p;
      });
      await c.query('select pg_wal_replay_pause()');
    } finally {
      await c.query(`ALTER SYSTEM SET recovery_min_apply_delay = '${delay.replace(/'/g, "''")}'`);
      await c.query('SELECT pg_reload_conf()');
    }
    // An idle replica stays "pause requested" until its next record: write one (no transaction, no commit).
    await withClient(primary, (p) => p.query("select pg_logical_emit_message(false, 'undrop-lab', 'replica paused before the incident')"));
    const pos = await until('replay to pause', 60_000, async () => {
      const p = await readReplicaPosition(c);
      return p.pauseState === 'paused' ? p : undefined;
    });
    const held = await c.query<{ n: number }>("select count(*)::int as n from pg_locks l join pg_stat_activity a on a.pid = l.pid where a.backend_type = 'startup' and l.mode = 'AccessExclusiveLock'");
    if (held.rows[0]!.n > 0) throw failure('LAB_REPLICA_STATE', `The lab's paused replica still holds ${held.rows[0]!.n} AccessExclusiveLock(s) of an unfinished transaction.`);
    return pos;
  });
}

/**
 * From 'paused-before-incident' (nothing committed between the replica's
 * replay position and the incident) to 'holding-incident-locks': resume
 * replay, wait until the startup process holds the incident tables' locks
 * and waits out the delay before its COMMIT, and pause there (`pause: false`
 * leaves replay running: the locks are held until the delay runs out).
 */
export async function replicaToIncidentLocks(dir: string, o: { pause?: boolean } = {}): Promise<ReplicaPosition> {
  const layout = labLayout(dir);
  const state = await requireState(layout);
  if (state.state !== 'incident') throw usageError('LAB_NO_INCIDENT', 'The replica can hold the incident\'s locks only after the incident.', 'Run the incident first.');
  const truth = JSON.parse(await readFile(layout.truthFile, 'utf8')) as Truth;
  return withClient(serverConn(state, 'replica'), async (c) => {
    const delayMs = Number((await c.query<{ d: string }>("select setting as d from pg_settings where name = 'recovery_min_apply_delay'")).rows[0]!.d);
    const dueAt = Date.parse(truth.incident.commitTime ?? '') + delayMs;
    if (!(dueAt - Date.now() > 10_000)) {
      throw failure('LAB_REPLICA_STATE', `The replica would apply the incident's COMMIT within seconds (delay ${delayMs} ms, incident at ${truth.incident.commitTime}): too late to hold its locks.`, { hint: 'Build the lab with a longer --delay.' });
    }
    const before = await readReplicaPosition(c);
    if (truth.incident.commitLsn && !Lsn.before(before.replayLsn, truth.incident.commitLsn)) {
      throw failure('LAB_REPLICA_STATE', `The replica already replayed the incident (replay ${before.replayLsn}, COMMIT at ${truth.incident.commitLsn}).`);
    }
    await c.query('select pg_wal_replay_resume()');
    const locked = await until('the startup process to hold the incident tables\' locks and wait before their COMMIT', 60_000, async () => {
      const p = await readReplicaPosition(c);
      return p.lockedTables.length === INCIDENT_TABLES.length && p.startupWait === 'RecoveryApplyDelay' ? p : undefined;
    });
    if (o.pause === false) return locked;
    await c.query('select pg_wal_replay_pause()');
    // Waiting out the delay, the pause reads "pause requested" and takes effect before the COMMIT is applied.
    const pos = await readReplicaPosition(c);
    if (pos.replayLsn !== locked.replayLsn || !['paused', 'pause requested'].includes(pos.pauseState)) {
      throw failure('LAB_REPLICA_STATE', `The replica moved while being paused (${locked.replayLsn} → ${pos.replayLsn}, ${pos.pauseState}).`);
    }
    return pos;
  });
}

/**
 * `lab incident` with the delayed replica in a known state (see the top of
 * this file). The replica's state is checked, not assumed: an error says
 * which condition did not hold.
 */
export async function labIncidentWithReplica(o: { dir: string; replica: ReplicaIncidentState; pause?: boolean }): Promise<{ truth: Truth; replica: ReplicaPosition }> {
  const layout = labLayout(o.dir);
  const state = await requireState(layout);
  if (!state.replica) throw usageError('LAB_NO_REPLICA', `This lab has no delayed replica (scenario "${state.scenario}").`);
  const release = await quiesce(o.dir, state);
  let truth: Truth;
  try {
    await catchUpAndPause(state);
    truth = (await labIncident({ dir: o.dir })).truth;
  } finally {
    await release();
  }
  let replica = await withClient(serverConn(state, 'replica'), readReplicaPosition);
  if (truth.incident.firstLsn && !Lsn.before(replica.replayLsn, truth.incident.firstLsn)) {
    throw failure('LAB_REPLICA_STATE', `The paused replica is not before the incident (replay ${replica.replayLsn}, incident's first record ${truth.incident.firstLsn}).`);
  }
  if (o.replica === 'holding-incident-locks') replica = await replicaToIncidentLocks(o.dir, { pause: o.pause });
  return { truth, replica };
}
