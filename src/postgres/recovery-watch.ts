// Following an instance through archive or crash recovery. `pg_ctl -w start`
// returns as soon as read-only connections are accepted — long before a
// recovery target is reached — so the server log and pg_is_in_recovery()
// are watched (on one connection, every 25 ms) until the instance is
// promoted, or fails; an instance paused at its target is promoted here.
import { UndropError, failure } from '../errors.js';
import { parseSegmentName, segmentForLsn, segmentName, segnoOfLsn } from './wal/segments.js';
import { formatBytes, formatDuration, sleep } from '../util/time.js';
import { freeBytes } from '../util/disk.js';
import { isLsn, parseLsn } from './wal/lsn.js';
import { replayTimeoutMs } from './timeouts.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { connect, withClient } from './connect.js';
import { phase } from './phases.js';
import type { TempInstance } from './instance.js';
import { readPostmasterPid } from './instance.js';

export interface RecoveryOutcome {
  /** "recovery stopping before commit of transaction 29519, time …" when a target was hit. */
  stopLine?: string;
  /** LSN from "redo done at X". */
  redoDoneLsn?: string;
  /** ISO time from "last completed transaction was at log time …". */
  lastTransactionTime?: string;
  /** xid the target stopped before, when the log says so. */
  stoppedBeforeXid?: string;
  timeline?: number;
  durationMs: number;
}

/** Pure: read what recovery did from the server log. */
export function parseRecoveryLog(log: string): Omit<RecoveryOutcome, 'durationMs'> {
  const out: Omit<RecoveryOutcome, 'durationMs'> = {};
  const stop = /LOG:\s+(recovery stopping (?:before|after) [^\n]*)/.exec(log);
  if (stop) out.stopLine = stop[1]!.trim();
  const xid = /recovery stopping before (?:commit|abort) of transaction (\d+)/.exec(log);
  if (xid) out.stoppedBeforeXid = xid[1];
  const redo = [...log.matchAll(/redo done at ([0-9A-F]+\/[0-9A-F]+)/g)].pop();
  if (redo) out.redoDoneLsn = redo[1];
  const last = [...log.matchAll(/last completed transaction was at log time ([0-9-]+ [0-9:.]+(?:[+-]\d\d(?::?\d\d)?)?)/g)].pop();
  if (last) out.lastTransactionTime = new Date(last[1]!.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00')).toISOString();
  const tli = [...log.matchAll(/selected new timeline ID: (\d+)/g)].pop();
  if (tli) out.timeline = Number(tli[1]);
  return out;
}

/** Pure: the WAL segment restore_command could not provide last, if any. */
export function missingSegmentFromLog(log: string): string | undefined {
  const names = [...log.matchAll(/([0-9A-F]{24})['"]?: No such file or directory|unable to find ([0-9A-F]{24})/g)].map((m) => (m[1] ?? m[2])!);
  return names.pop();
}

/** When restore_command says nothing useful: the segment after the last one replayed. */
export function segmentAfterRedo(log: string): string | undefined {
  const redo = parseRecoveryLog(log).redoDoneLsn;
  const tli = /on timeline ID (\d+)/.exec(log);
  if (!redo) return undefined;
  return segmentName(tli ? Number(tli[1]) : 1, segnoOfLsn(redo) + 1n);
}

/**
 * A restored backup whose own WAL is not all there never becomes consistent:
 * the server dies before any target with "could not locate required
 * checkpoint record" (the backup's first segment is missing) or "WAL ends
 * before end of online backup" (a later one). The segment is named from the
 * log: the checkpoint's, or the one after the last restored from the archive.
 */
export function segmentMissingBeforeConsistency(log: string): string | undefined {
  const start = /starting backup recovery with redo LSN ([0-9A-F]+\/[0-9A-F]+), checkpoint LSN ([0-9A-F]+\/[0-9A-F]+), on timeline ID (\d+)/.exec(log);
  if (/could not locate required checkpoint record/.test(log)) return start ? segmentForLsn(Number(start[3]), start[2]!) : undefined;
  if (!/WAL ends before (?:end of online backup|consistent recovery point)/.test(log)) return undefined;
  const restored = [...log.matchAll(/restored log file "([0-9A-F]{24})" from archive/g)].pop();
  if (restored) {
    const s = parseSegmentName(restored[1]!);
    return segmentName(s.timeline, s.segno + 1n);
  }
  return start ? segmentForLsn(Number(start[3]), start[1]!) : undefined;
}

/** Below this much free space where the WAL is restored, a segment restore_command failed to give is a full disk, not a gap. */
const WAL_ROOM = 32 * 1024 * 1024;

/**
 * A recovery that stopped short of its target, as a clear error (missing WAL named when possible).
 * `freeBytes`: free space where the instance restores WAL. A full disk makes restore_command fail too
 * (pgBackRest: "FileWriteError … RECOVERYXLOG"), and the segment is then not missing from the archive.
 */
export function recoveryShortError(log: string, logFile: string, cause?: unknown, freeBytes?: number): UndropError | undefined {
  const short = /recovery ended before configured recovery target was reached/.test(log);
  const inBackup = short ? undefined : segmentMissingBeforeConsistency(log);
  const missing = missingSegmentFromLog(log) ?? (short ? segmentAfterRedo(log) : inBackup);
  if (!short && !missing) return undefined;
  if (freeBytes !== undefined && freeBytes < WAL_ROOM) {
    // the sources' catch restates it with the figures (isDiskFull, replayDiskFull)
    return failure('DISK_FULL', `Recovery stopped before the target: ${missing ? `WAL segment ${missing}` : 'the next WAL segment'} could not be restored, disk full (${formatBytes(freeBytes)} free where the temporary instance restores WAL).`, {
      hint: 'Free space there (df -h) or point --work-dir at a larger filesystem.',
      details: fatalLines(log),
      cause,
    });
  }
  // A history file restored: replay left the backup's timeline for another, which may never have seen the target.
  const followed = [...new Set([...log.matchAll(/restored log file "([0-9A-F]{8})\.history"/g)].map((m) => parseInt(m[1]!, 16)))];
  // Said only when replay ran out on a timeline it followed (a missing ancestor segment is just missing).
  const missingTli = missing ? parseInt(missing.slice(0, 8), 16) : undefined;
  const timelineNote = followed.length && (missingTli === undefined || followed.includes(missingTli)) ? ` Replay followed timeline ${followed.join(', then ')} (recovery_target_timeline); if the target lies on another timeline (\`undrop locate\` gives each event's), pass --target-timeline N.` : '';
  return failure(
    missing ? 'WAL_SEGMENT_MISSING' : 'RECOVERY_FAILED',
    missing ? `Recovery ended before the target was reached: WAL segment ${missing} is missing from the archive.` : 'Recovery ended before the target was reached.',
    {
      hint: missing
        ? `Find ${missing} (another archive copy, the primary's pg_wal, a replica's pg_wal) and add it to the archive, or ${inBackup ? 'restore an older backup (--set) or another source: this backup cannot become consistent without it' : 'choose a source whose recovery point lies before the gap'}.${timelineNote}`
        : `See the server log ${logFile}.${timelineNote}`,
      details: fatalLines(log),
      cause,
    },
  );
}

/**
 * Start an instance that is about to do archive recovery; a start that dies
 * in recovery becomes a clear error. Meanwhile its promotion is asked for
 * the moment it takes connections (tried every 20 ms, not at pg_ctl's next
 * look), so that the request is in before replay pauses at the target even
 * when little WAL is left to replay by then (waitForPromotion says why).
 */
export async function startRecovery(inst: TempInstance): Promise<void> {
  const early = earlyPromotion(inst);
  try {
    await inst.start();
  } catch (e) {
    throw recoveryShortError(await inst.log(), inst.logFile, e, await freeBytes(inst.dataDir)) ?? e;
  } finally {
    await early.stop();
  }
}

/** Ask for the promotion as soon as a connection succeeds (archive recovery only: see waitForPromotion); stop() ends the attempts. */
function earlyPromotion(inst: TempInstance): { stop: () => Promise<void> } {
  if (existsSync(join(inst.dataDir, 'standby.signal'))) return { stop: async () => {} };
  let stopped = false;
  const attempts = (async () => {
    while (!stopped) {
      try {
        await withClient(inst.connParams('postgres'), (c) => c.query('select pg_promote(wait => false)'), { connectTimeoutMs: 2000 });
        return;
      } catch (e) {
        // another superuser than the one tried (start() finds it): waitForPromotion asks then
        if ((e as { code?: string }).code === 'AUTH_FAILED' || /role .* does not exist/.test(String((e as Error).message))) return;
      }
      await sleep(20);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await attempts;
    },
  };
}

function fatalLines(log: string): string[] {
  return log
    .split('\n')
    // not the refusals of the promotion request's early connection attempts
    .filter((l) => /FATAL|PANIC|recovery ended before|could not find|No such file|starting backup recovery/.test(l) && !/the database system is starting up/.test(l))
    .slice(-8);
}

/**
 * Replay progress against the target LSN: percent of the distance from the
 * first LSN seen, rate, ETA (" — 42% of 1.2 GB to 0/5A000000, 35 MB/s, ETA 20 s"). Pure given its inputs.
 */
export function replayMeter(targetLsn: string | undefined, from?: string): (lsn: string | null, nowMs: number) => string {
  // Percent from the backup's start when known (the first sample is then already part way), else from the first sample.
  let start: bigint | undefined = from && isLsn(from) ? parseLsn(from) : undefined;
  // Rate between samples (replay ran before the first one, during the server's start).
  let prev: { lsn: bigint; at: number } | undefined;
  const target = targetLsn && isLsn(targetLsn) ? parseLsn(targetLsn) : undefined;
  return (lsn, nowMs) => {
    if (!lsn || !isLsn(lsn)) return '';
    const cur = parseLsn(lsn);
    start ??= cur;
    const secs = prev ? (nowMs - prev.at) / 1000 : 0;
    const rate = prev && secs > 0 ? Number(cur - prev.lsn) / secs : 0;
    prev = { lsn: cur, at: nowMs };
    const rateText = rate > 0 ? `, ${formatBytes(rate)}/s` : '';
    if (target === undefined || target <= start) return rateText ? ` (${rateText.slice(2)})` : '';
    const total = Number(target - start);
    const pct = Math.min(100, Math.max(0, Math.round((Number(cur - start) / total) * 100)));
    const eta = rate > 0 ? `, ETA ${formatDuration((Math.max(0, Number(target - cur)) / rate) * 1000)}` : '';
    return ` — ${pct}% of ${formatBytes(total)} to ${targetLsn}${rateText}${eta}`;
  };
}

/** How often the watch looks (one small query on a connection kept open; the log read too). */
const POLL_MS = 25;

/** The server says it paused at its recovery target (recovery_target_action = 'pause'). Pure. */
export function pausedAtTarget(log: string): boolean {
  return /LOG:\s+pausing at the end of recovery/.test(log);
}

/**
 * Wait until the instance has left recovery (promoted at its target) and
 * accepts writes. The promotion is asked for here with pg_promote(), as soon
 * as the instance takes connections: archive recovery (recovery.signal, not
 * standby.signal) reads that request only where it pauses at its target
 * (recovery_target_action = 'pause', targetSettings; PostgreSQL's
 * recoveryPausesHere), so replay still runs to the target, and the server
 * then promotes at once with only an end-of-recovery record, where the
 * 'promote' action makes the startup process write a whole checkpoint first
 * (every page replay dirtied). Asked for only once paused, the request
 * would wait out the pause loop's one-second sleep; a standby-mode copy is
 * promoted that way (there an early request ends replay where the WAL
 * runs out). Fails with the missing segment named when recovery ended
 * before the target, and with the log tail when the server died.
 */
export async function waitForPromotion(inst: TempInstance, o: { timeoutMs?: number; onProgress?: (msg: string) => void; targetLsn?: string; fromLsn?: string } = {}): Promise<RecoveryOutcome> {
  const started = Date.now();
  const deadline = started + (o.timeoutMs ?? replayTimeoutMs());
  let lastReport = 0;
  const meter = replayMeter(o.targetLsn, o.fromLsn);
  const standby = existsSync(join(inst.dataDir, 'standby.signal'));
  // One connection for the whole watch: a hot-standby session lives on through the promotion.
  let client: pg.Client | undefined;
  const drop = async () => {
    await client?.end().catch(() => {});
    client = undefined;
  };
  let asked = false;
  // asked again only when a call failed (a lost connection: the watch starts over on a new one)
  const promote = async () => {
    if (!asked) asked = !!(await client!.query<{ ok: boolean }>('select pg_promote(wait => false) as ok')).rows[0]?.ok;
  };
  // Paused before any request got in (little WAL left after the server opened): a request now waits out the
  // pause loop's one-second sleep, so a copy in archive recovery is resumed instead (the end-of-recovery
  // checkpoint then writes what replay dirtied: little, when the pause came that soon); a standby-mode copy
  // can only be promoted.
  let woken = false;
  const wake = async () => {
    if (standby) return promote();
    if (!woken) woken = !!(await client!.query('select pg_wal_replay_resume()'));
  };
  /** Look every POLL_MS until `done` says what was reached. */
  const until = async (done: (row: WatchRow, log: string) => Promise<'stopped' | 'promoted' | undefined>, report: boolean): Promise<'stopped' | 'promoted'> => {
    while (Date.now() < deadline) {
      const log = await inst.log();
      if (/recovery ended before configured recovery target was reached/.test(log) || /startup process .* exited with exit code/.test(log) || /shutting down due to startup process failure/.test(log)) {
        throw recoveryShortError(log, inst.logFile, undefined, await freeBytes(inst.dataDir)) ?? failure('RECOVERY_FAILED', 'Recovery failed.', { hint: `See the server log ${inst.logFile}.`, details: fatalLines(log) });
      }
      if (!readPostmasterPid(inst.dataDir) && Date.now() - started > 2000) {
        throw failure('RECOVERY_FAILED', 'The temporary instance stopped during recovery.', { hint: `See the server log ${inst.logFile}.`, details: fatalLines(log) });
      }
      try {
        client ??= await connect(inst.connParams('postgres'), { connectTimeoutMs: 5000 });
        const row = (await client.query<WatchRow>(WATCH_SQL)).rows[0]!;
        const reached = await done(row, log);
        if (reached) return reached;
        if (report && o.onProgress && Date.now() - lastReport > 1000) {
          lastReport = Date.now();
          o.onProgress(`replaying WAL: at ${row.lsn ?? '?'}${meter(row.lsn, Date.now())}${row.ts ? `, commits of ${row.ts.toISOString()}` : ''}`);
        }
      } catch {
        /* not accepting connections yet, or restarting: look again on a new connection */
        await drop();
      }
      await sleep(POLL_MS);
    }
    throw failure('RECOVERY_TIMEOUT', 'Recovery did not reach its target in time.', { hint: `See the server log ${inst.logFile}; a large WAL range may need more time.` });
  };
  try {
    await phase(`${inst.name}: replay to the target`, () =>
      until(async (row, log) => {
        if (!row.rec) return 'promoted';
        if (!standby) await promote();
        return stoppedAtTarget(log) ? 'stopped' : undefined;
      }, true),
    );
    await phase(`${inst.name}: promote (end of recovery)`, () =>
      until(async (row, log) => {
        if (!row.rec) return 'promoted';
        if (row.paused && pausedAtTarget(log) && !/received promote request/.test(log)) await wake();
        return undefined;
      }, false),
    );
    return { ...parseRecoveryLog(await inst.log()), durationMs: Date.now() - started };
  } finally {
    await drop();
  }
}

/** The server log says replay reached its target ("recovery stopping before commit of transaction …"). Pure. */
function stoppedAtTarget(log: string): boolean {
  return /LOG:\s+recovery stopping /.test(log);
}

interface WatchRow {
  rec: boolean;
  paused: boolean;
  lsn: string | null;
  ts: Date | null;
}

const WATCH_SQL =
  "select pg_is_in_recovery() as rec, pg_is_in_recovery() and pg_get_wal_replay_pause_state() = 'paused' as paused, pg_last_wal_replay_lsn()::text as lsn, pg_last_xact_replay_timestamp() as ts";
