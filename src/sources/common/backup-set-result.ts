// A backup manager's probe result (pgBackRest, Barman): its backups aggregated
// as items, the newest usable one chosen, the loss window against the target.
import type { Finding, ProbeContext, ProbeItem, ProbeResult } from '../types.js';
import { aggregateItems } from './aggregate.js';
import { lossWindowMs } from './loss.js';

export function backupSetResult(
  source: { name: string; kind: ProbeResult['kind'] },
  ctx: ProbeContext,
  started: number,
  items: ProbeItem[],
  sourceFindings: Finding[],
  reachesTarget: boolean,
): ProbeResult {
  const agg = aggregateItems(items, sourceFindings, 'backup', (a, b) => b.label.localeCompare(a.label));
  return {
    name: source.name,
    kind: source.kind,
    status: agg.status,
    recoveryPoint: agg.recoveryPoint,
    tables: [],
    findings: agg.findings,
    items: agg.items,
    lossWindowMs: lossWindowMs(agg.recoveryPoint, ctx.target, reachesTarget),
    timeLeftMs: null,
    estimatedMaterializeMs: agg.chosen ? 10_000 : null,
    durationMs: Date.now() - started,
  };
}
