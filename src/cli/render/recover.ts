// recover's summary: where the tables came from, where they are now, and
// what to do next.
import type { RecoverDocument } from '../../recovery/recover-checklist.js';
import { formatDuration } from '../../util/time.js';

export function humanSummary(d: RecoverDocument): string[] {
  const out = [
    '',
    `Recovered from ${d.source} (recovery point ${d.recoveryPoint?.time ?? 'unknown'}${d.recoveryPoint?.lsn ? `, LSN ${d.recoveryPoint.lsn}` : ''}) in ${formatDuration(d.durationMs)}.`,
    `Mode: ${d.mode}; side schema: ${d.schema}`,
  ];
  for (const t of d.tables) out.push(`  ${t.name.padEnd(32)} → ${t.recoveredAs.padEnd(44)} ${String(t.rows).padStart(10)} rows  checksum equal, identity ${t.identity === 'proven' ? 'proven' : 'NOT PROVEN'}`);
  for (const t of d.tables) if (t.identity !== 'proven' && t.identityReason) out.push(`  ${t.name}: ${t.identityReason}`);
  out.push(...promotedLines(d.promoted));
  out.push(`Report: ${d.report}`);
  for (const n of d.nextSteps) out.push(`Next: ${n}`);
  return out;
}

export function promotedLines(p: RecoverDocument['promoted']): string[] {
  const out: string[] = [];
  for (const t of p?.tables ?? []) {
    if (p!.mode === 'replace') {
      out.push(`  ${t.name} is now the recovered table${t.liveRenamedTo ? `; the live one was renamed to ${t.liveRenamedTo}` : ''}`);
      continue;
    }
    const collided = (t.conflicts ?? 0) + (t.otherUnique ?? 0);
    const what =
      t.resolution === 'kept-live'
        ? `; ${collided} recovered rows LEFT OUT because live rows written since the incident hold their keys (--on-conflict keep-live), kept in ${t.conflictsTable}`
        : t.resolution === 'rekeyed-live'
          ? `; ${t.rekeyed} live rows written since the incident got new keys (--on-conflict rekey-live), pairs in ${t.conflictsTable}`
          : '';
    out.push(`  merged into ${t.name}: ${t.inserted} rows inserted, ${t.skipped} already there (equal)${what}`);
  }
  return out;
}
