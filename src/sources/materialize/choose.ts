// Which item of a probed source to materialize: the newest usable one whose
// recovery point does not pass the target (a snapshot or dump taken after
// the DROP no longer holds the tables).
import { failure } from '../../errors.js';
import { Lsn } from '../../postgres/wal/lsn.js';
import type { ResolvedTarget } from '../target.js';
import type { ProbeItem, ProbeResult } from '../types.js';

function timeOf(i: ProbeItem): number | null {
  const t = i.recoveryPoint?.time;
  return t ? Date.parse(t) : null;
}

export function beforeTarget(i: ProbeItem, target: ResolvedTarget): boolean {
  if (target.kind === 'latest') return true;
  const lsn = i.recoveryPoint?.lsn;
  const limitLsn = target.firstLsn ?? target.commitLsn;
  if (lsn && limitLsn) return Lsn.compare(lsn, limitLsn) <= 0;
  const t = timeOf(i);
  if (t !== null && target.time) return t <= Date.parse(target.time);
  return true; // unknown: allowed, but ranked last
}

/** Usable items first, newest first; degraded ones after the usable ones. */
export function chooseItems(probe: ProbeResult, target: ResolvedTarget): ProbeItem[] {
  const items = (probe.items ?? []).filter((i) => i.status !== 'unusable' && i.path && beforeTarget(i, target));
  const rank = (i: ProbeItem) => (i.status === 'usable' ? 0 : 1);
  return items.sort((a, b) => rank(a) - rank(b) || (timeOf(b) ?? -Infinity) - (timeOf(a) ?? -Infinity));
}

export function chooseItem(probe: ProbeResult, target: ResolvedTarget): ProbeItem {
  const chosen = chooseItems(probe, target)[0];
  if (!chosen) {
    const reasons = (probe.items ?? []).map((i) => `${i.label}: ${i.status}${i.findings[0] ? ` (${i.findings[0].message})` : ''}`);
    throw failure('NO_USABLE_ITEM', `Source "${probe.name}" has nothing usable from before the target.`, {
      hint: 'Run `undrop probe` to see every source and choose another with --source.',
      details: reasons.slice(0, 10),
    });
  }
  return chosen;
}
