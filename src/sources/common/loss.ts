// Loss window: committed work between what a source can reach and the
// incident target (0 when the source reaches the target itself).
import type { ResolvedTarget } from '../target.js';
import type { RecoveryPoint } from '../types.js';
import { pointTime } from './aggregate.js';

export function targetTime(target: ResolvedTarget | undefined): number | null {
  if (!target?.time) return null;
  const t = Date.parse(target.time);
  return Number.isNaN(t) ? null : t;
}

/** Milliseconds lost, 0 when the point is at or after the target, null when unknown. */
export function lossWindowMs(point: RecoveryPoint | null, target: ResolvedTarget | undefined, reachesTarget = false): number | null {
  if (reachesTarget) return 0;
  const tt = targetTime(target);
  const pt = pointTime(point);
  if (tt === null || pt === null) return null;
  return Math.max(0, tt - pt);
}
