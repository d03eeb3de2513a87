// Ranking: newest recovery point first; unusable sources last, never hidden.
// Pure, so the order is unit-tested.
import type { ProbeResult } from './types.js';
import { compareNewestFirst } from './common/aggregate.js';
import { statusRank } from './common/findings.js';
import { isLsn, Lsn } from '../postgres/wal/lsn.js';

/** Among equal recovery points, the quickest to materialize first. */
const KIND_ORDER: Record<string, number> = { 'delayed-replica': 0, snapshot: 1, pitr: 2, pgbackrest: 3, dump: 4 };

export function compareResults(a: ProbeResult, b: ProbeResult): number {
  const ua = a.status === 'unusable' ? 1 : 0;
  const ub = b.status === 'unusable' ? 1 : 0;
  if (ua !== ub) return ua - ub;
  // Against a known target, what counts is how much each would lose: a WAL
  // archive that reaches past the incident is as new as the target, no newer.
  const lossA = a.lossWindowMs;
  const lossB = b.lossWindowMs;
  const tie = () => statusRank(a.status) - statusRank(b.status) || (KIND_ORDER[a.kind] ?? 9) - (KIND_ORDER[b.kind] ?? 9) || a.name.localeCompare(b.name);
  if (lossA != null && lossB != null) return lossA - lossB || tie();
  const byTime = compareNewestFirst(a.recoveryPoint, b.recoveryPoint);
  if (byTime) return byTime;
  const la = a.recoveryPoint?.lsn;
  const lb = b.recoveryPoint?.lsn;
  if (la && lb && isLsn(la) && isLsn(lb) && la !== lb) return Lsn.before(la, lb) ? 1 : -1;
  return tie();
}

export function rankResults(results: readonly ProbeResult[]): ProbeResult[] {
  return [...results].sort(compareResults);
}

/** The reason an unusable source is unusable: its first error finding. */
export function unusableReason(r: ProbeResult): string | null {
  if (r.status !== 'unusable') return null;
  const f = r.findings.find((x) => x.level === 'error');
  return f ? f.message : 'no usable item';
}
