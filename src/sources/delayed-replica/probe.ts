// Probe a delayed standby: is it one, how far behind, has it replayed the
// incident yet, and how long before it does. Changes nothing (no pause).
import { errorMessage, isUndropError } from '../../errors.js';
import type { SourceConfigOf } from '../../inventory/schema.js';
import { withClient } from '../../postgres/connect.js';
import { resolveConnParams } from '../../postgres/conninfo.js';
import { displayName } from '../../postgres/identifiers.js';
import { Lsn } from '../../postgres/wal/lsn.js';
import { formatDuration } from '../../util/time.js';
import type { Finding, ProbeContext, ProbeResult, RecoveryPoint, TableInfo } from '../types.js';
import { error, info, statusOf, warn } from '../common/findings.js';
import { lossWindowMs, targetTime } from '../common/loss.js';
import { catalogTables, matchTables } from '../common/tables.js';
import { thresholdsFor } from '../common/thresholds.js';
import { type ReplicaState, type StartupLock, readReplicaState, startupLocks } from './queries.js';
import { lastCommitAtOrBefore, replicaWalDirs } from './replay-commit.js';
import { findBinaries, majorFromVersionNum } from '../../postgres/binaries.js';

export interface ReplicaAssessment {
  findings: Finding[];
  recoveryPoint: RecoveryPoint | null;
  timeLeftMs: number | null;
  reachesTarget: boolean;
}

/** Pure: what the replica's state means against the target (unit-tested). */
export function assessReplica(s: ReplicaState, locks: StartupLock[], ctx: Pick<ProbeContext, 'target' | 'tables' | 'productionSystemId'>, replayCommit?: { time: string; lsn: string }): ReplicaAssessment {
  const findings: Finding[] = [];
  const nowMs = Date.parse(s.now);
  if (!s.inRecovery) {
    findings.push(error('NOT_A_STANDBY', 'This server is not in recovery (not a standby, or it was promoted): it has every change applied, the incident included.', 'Point this source at a delayed standby.'));
    return { findings, recoveryPoint: null, timeLeftMs: null, reachesTarget: false };
  }
  if (ctx.productionSystemId && s.systemIdentifier && ctx.productionSystemId !== s.systemIdentifier) {
    findings.push(error('REPLICA_OTHER_CLUSTER', `This standby replicates another cluster (system identifier ${s.systemIdentifier}, production's is ${ctx.productionSystemId}).`, 'Check the dsn in undrop.yaml.'));
  }
  const paused = s.pauseState === 'paused';
  if (s.delayMs <= 0 && !paused) {
    findings.push(error('REPLICA_NO_DELAY', 'recovery_min_apply_delay is 0: this replica replays a DROP immediately, so it has the same loss as production.', 'Keep a standby with recovery_min_apply_delay (for example 4h) for this purpose.'));
  } else {
    findings.push(info('REPLICA_DELAY', `Replays commits ${formatDuration(s.delayMs)} after they happen (recovery_min_apply_delay); replay is ${s.pauseState}${s.startupWait ? `, startup process ${s.startupWait}` : ''}.`));
  }
  if (s.pauseState === 'pause requested') {
    findings.push(info('PAUSE_REQUESTED', 'A pause was requested but is not in effect yet (it takes effect when the current delay wait ends, before the next commit is applied).'));
  }
  if (s.receiverStatus !== 'streaming') {
    findings.push(warn('REPLICA_NOT_STREAMING', `The WAL receiver is ${s.receiverStatus ?? 'not running'}: the replica gets no new WAL from the primary.`, 'Check primary_conninfo and the replication slot; recent WAL may be missing here.'));
  }
  let point: RecoveryPoint;
  if (s.lastReplayTime) {
    point = { time: s.lastReplayTime, lsn: s.replayLsn, basis: paused ? 'last replayed commit (replay paused)' : 'last replayed commit (moves forward until replay is paused)' };
  } else {
    // Never "now − delay": a replica that replayed no commit since it started can hold data far newer
    // than that. Its last replayed checkpoint's time is a true lower bound of what it holds.
    point = replayCommit
      ? { time: replayCommit.time, lsn: s.replayLsn, basis: `no commit replayed since start; the last commit at or before its replay position (${replayCommit.lsn}, read from WAL)` }
      : {
          time: s.checkpointTime ?? null,
          lsn: s.replayLsn,
          basis: s.checkpointTime ? 'no commit replayed since start; time of its last replayed checkpoint (a lower bound)' : 'no commit replayed since start; time unknown',
        };
    findings.push(info('REPLAY_TIME_UNKNOWN', 'pg_last_xact_replay_timestamp() is NULL: no commit has been replayed since the standby started.'));
  }
  // Against the incident.
  let timeLeftMs: number | null = null;
  let reachesTarget = false;
  const tgt = ctx.target;
  const tTime = targetTime(tgt);
  const tLsn = tgt?.firstLsn ?? tgt?.commitLsn;
  let past = false;
  if (tgt && tgt.commitLsn && s.replayLsn && Lsn.before(tgt.commitLsn, s.replayLsn)) past = true;
  else if (tTime !== null && s.lastReplayTime && Date.parse(s.lastReplayTime) >= tTime) past = true;
  if (past) {
    // Said first: nothing else about this replica matters once it holds the incident.
    findings.unshift(
      error(
        'REPLICA_PAST_INCIDENT',
        `The replica already replayed the incident${tgt?.time ? ` (${tgt.time})` : ''}: its replay is at ${s.lastReplayTime ?? s.replayLsn}${s.lastReplayTime && s.replayLsn ? ` (LSN ${s.replayLsn})` : ''}, so the lost tables are gone there too.`,
        'Too late for this replica: use a backup-based source (PITR, pgBackRest, a snapshot or a dump from before the incident).',
      ),
    );
  } else if (tgt && (tTime !== null || tLsn) && (paused || s.pauseState === 'pause requested')) {
    // Frozen where it is: its recovery point is its last replayed commit, not the target.
    findings.push(info('REPLICA_PAUSED_BEFORE_INCIDENT', 'Replay is paused before the incident: the replica holds the state of its last replayed commit until someone resumes it.'));
  } else if (tgt && (tTime !== null || tLsn)) {
    reachesTarget = true;
    if (tTime !== null && s.delayMs > 0) {
      timeLeftMs = tTime + s.delayMs - nowMs;
      findings.push(
        (timeLeftMs < 5 * 60_000 ? warn : info)(
          'REPLICA_TIME_LEFT',
          `${formatDuration(Math.max(0, timeLeftMs))} LEFT before this replica replays the incident (incident ${tgt.time} + delay ${formatDuration(s.delayMs)}).`,
          'Pause it now: `undrop recover --source <this>` pauses first, or run select pg_wal_replay_pause(); on the replica.',
        ),
      );
    }
    point = { time: tgt.time ?? point.time, lsn: tLsn ?? null, basis: 'the incident target (pause replay before it)' };
  }
  // The lock trap: the destructive transaction's locks already replayed.
  const userLocks = locks.filter((l) => l.schema !== null && !l.schema.startsWith('pg_'));
  if (userLocks.length > 0) {
    const names = userLocks.map((l) => displayName({ schema: l.schema!, name: l.name ?? String(l.oid) }));
    const asked = ctx.tables.length === 0 || ctx.tables.some((t) => userLocks.some((l) => l.name === t.name && l.schema === (t.schema ?? 'public')));
    findings.push(
      (asked ? warn : info)(
        'REPLICA_LOCK_TRAP',
        `The startup process holds AccessExclusiveLock on ${names.join(', ')}: a destructive transaction's lock records are replayed while its COMMIT waits out the delay, so these tables cannot be read on the standby.`,
        'Reads block (and time out). Recovery from this replica pauses replay and starts a copy with recovery_target_lsn before the transaction\'s first record (or promotes a copy), which releases the lock.',
      ),
    );
  }
  return { findings, recoveryPoint: point, timeLeftMs, reachesTarget };
}

/** The last commit at or before the replay position, from the archive or the replica's pg_wal; undefined when neither is readable. */
async function replayPositionCommit(s: ReplicaState, dataDir: string | undefined, walArchive: string | undefined): Promise<{ time: string; lsn: string } | undefined> {
  const dirs = replicaWalDirs(walArchive, dataDir);
  if (!s.replayLsn || !s.timeline || dirs.length === 0) return undefined;
  try {
    const bin = await findBinaries(majorFromVersionNum(s.versionNum));
    return await lastCommitAtOrBefore(bin, dirs, s.timeline, s.replayLsn);
  } catch {
    return undefined;
  }
}

export async function probeDelayedReplica(config: SourceConfigOf<'delayed-replica'>, ctx: ProbeContext): Promise<ProbeResult> {
  const started = Date.now();
  const t = thresholdsFor(config);
  const base = { name: config.name, kind: 'delayed-replica' as const, estimatedMaterializeMs: 2_000 };
  const budget = Math.min(t.timeoutMs, ctx.timeoutMs);
  let params;
  try {
    params = resolveConnParams(config.dsn);
  } catch (e) {
    const f = [error('REPLICA_DSN_INVALID', errorMessage(e), isUndropError(e) ? e.hint : undefined)];
    return { ...base, status: 'unusable', recoveryPoint: null, tables: [], findings: f, durationMs: Date.now() - started };
  }
  try {
    return await withClient(
      params,
      async (c) => {
        const state = await readReplicaState(c);
        const locks = state.inRecovery ? await startupLocks(c).catch(() => [] as StartupLock[]) : [];
        const a = assessReplica(state, locks, ctx, state.lastReplayTime ? undefined : await replayPositionCommit(state, config.data_dir, ctx.walArchive));
        let tables: TableInfo[] = [];
        try {
          tables = matchTables(ctx.tables, await catalogTables(c, ctx.tables));
          const missing = tables.filter((x) => !x.present);
          if (missing.length > 0) {
            a.findings.push(warn('TABLES_MISSING', `Not on the replica (database ${state.database}): ${missing.map((m) => m.name).join(', ')}.`, 'Check the table names, and the database in the replica\'s dsn.'));
          }
        } catch (e) {
          a.findings.push(warn('TABLES_UNREADABLE', `Could not list tables: ${errorMessage(e)}`));
        }
        const status = statusOf(a.findings);
        return {
          ...base,
          status,
          recoveryPoint: a.recoveryPoint,
          tables,
          findings: a.findings,
          lossWindowMs: status === 'unusable' ? null : lossWindowMs(a.recoveryPoint, ctx.target, a.reachesTarget),
          timeLeftMs: a.timeLeftMs,
          durationMs: Date.now() - started,
        };
      },
      { statementTimeoutMs: Math.min(5_000, budget), lockTimeoutMs: 1_000, connectTimeoutMs: Math.min(5_000, budget), applicationName: 'undrop probe' },
    );
  } catch (e) {
    const code = isUndropError(e) ? e.code : 'ERROR';
    const f = [error(code === 'UNREACHABLE' || code === 'CONNECT_FAILED' ? 'REPLICA_UNREACHABLE' : `REPLICA_${code}`, errorMessage(e), isUndropError(e) ? e.hint : undefined)];
    return { ...base, status: 'unusable', recoveryPoint: null, tables: [], findings: f, durationMs: Date.now() - started };
  }
}
