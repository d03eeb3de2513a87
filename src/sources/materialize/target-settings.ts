// How a WAL-replay restore (PITR, pgBackRest, a replica's copy) stops at
// the target: PostgreSQL's recovery_target_* settings.
import { type ResolvedTarget, pgTargetTime } from '../target.js';

/**
 * recovery_target_* settings for an exact, exclusive target. The server
 * pauses there and waitForPromotion promotes it with pg_promote(): that
 * promotion skips the end-of-recovery checkpoint the 'promote' action
 * waits for (recovery-watch.ts). Pausing needs hot_standby (without it
 * 'pause' shuts the server down), so it is set here too.
 */
export function targetSettings(t: ResolvedTarget): Record<string, string | boolean> {
  const base = { recovery_target_inclusive: false, recovery_target_action: 'pause', hot_standby: true, recovery_target_timeline: t.timeline ?? 'latest' };
  // The kind decides: a DROP DATABASE target is an LSN (its files go before its commit) although its xid is known.
  if (t.kind === 'xid' && t.xid) return { ...base, recovery_target_xid: t.xid };
  if (t.kind === 'lsn' && t.commitLsn) return { ...base, recovery_target_lsn: t.commitLsn };
  if (t.kind === 'time' && t.time) return { ...base, recovery_target_time: pgTargetTime(t.time) };
  if (t.kind === 'name' && t.name) return { recovery_target_action: 'pause', hot_standby: true, recovery_target_timeline: base.recovery_target_timeline, recovery_target_name: t.name };
  return { recovery_target_action: 'promote', recovery_target_timeline: base.recovery_target_timeline };
}
