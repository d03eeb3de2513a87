// Sources with several restorable items (dump files, base backups,
// snapshots): the source is what its best item can restore. A newer item
// that is unusable makes the source degraded, never silently skipped.
import type { Finding, ProbeItem, RecoveryPoint, SourceStatus } from '../types.js';
import { itemFindings, statusRank, warn, worst } from './findings.js';

export function pointTime(p: RecoveryPoint | null | undefined): number | null {
  if (!p?.time) return null;
  const t = Date.parse(p.time);
  return Number.isNaN(t) ? null : t;
}

/** Newer recovery point first; unknown times last; 0 when equal. */
export function compareNewestFirst(a: RecoveryPoint | null | undefined, b: RecoveryPoint | null | undefined): number {
  const ta = pointTime(a);
  const tb = pointTime(b);
  if (ta === tb) return 0;
  if (ta === null) return 1;
  if (tb === null) return -1;
  return tb - ta;
}

/** Newest first; items without a time last; then better status first. */
export function sortItems(items: ProbeItem[], tiebreak?: (a: ProbeItem, b: ProbeItem) => number): ProbeItem[] {
  return [...items].sort((a, b) => {
    return compareNewestFirst(a.recoveryPoint, b.recoveryPoint) || statusRank(a.status) - statusRank(b.status) || (tiebreak ? tiebreak(a, b) : 0) || a.label.localeCompare(b.label);
  });
}

export interface Aggregate {
  status: SourceStatus;
  recoveryPoint: RecoveryPoint | null;
  findings: Finding[];
  items: ProbeItem[];
  chosen?: ProbeItem;
}

export function aggregateItems(items: ProbeItem[], sourceFindings: Finding[], noun: string, tiebreak?: (a: ProbeItem, b: ProbeItem) => number): Aggregate {
  const sorted = sortItems(items, tiebreak);
  const findings = [...sourceFindings];
  for (const it of sorted) findings.push(...itemFindings(it));
  const chosen = sorted.find((i) => i.status !== 'unusable');
  if (!chosen) {
    return { status: 'unusable', recoveryPoint: null, findings, items: sorted };
  }
  let status = worst(chosen.status, ...sourceFindings.filter((f) => f.level !== 'info').map((f) => (f.level === 'error' ? 'unusable' : 'degraded') as SourceStatus));
  const ct = pointTime(chosen.recoveryPoint);
  const newerBroken = sorted.filter((i) => {
    const it = pointTime(i.recoveryPoint);
    // Same recovery point: newer by the kind's own order (a PITR source's newer base backup).
    return i.status === 'unusable' && ct !== null && it !== null && (it > ct || (it === ct && !!tiebreak && tiebreak(i, chosen) < 0));
  });
  if (newerBroken.length > 0) {
    status = worst(status, 'degraded');
    findings.push(
      warn(
        'NEWEST_UNUSABLE',
        `The newest ${noun}${newerBroken.length > 1 ? 's' : ''} (${newerBroken.map((i) => i.label).join(', ')}) cannot be used; the best usable one is ${chosen.label}${chosen.recoveryPoint?.time ? ` from ${chosen.recoveryPoint.time}` : ''}.`,
        'Fix the job that produced the broken ones; the recovery point below is the older usable one.',
      ),
    );
  }
  return { status, recoveryPoint: chosen.recoveryPoint, findings, items: sorted, chosen };
}
