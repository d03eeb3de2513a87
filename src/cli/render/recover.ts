// recover's summary: where the tables came from, where they are now, and
// what to do next.
import type { RecoverDocument } from '../../recovery/recover-incident.js';
import { formatDuration } from '../../util/time.js';

export function humanSummary(d: RecoverDocument): string[] {
  const out = [
    '',
    `Recovered from ${d.source} (recovery point ${d.recoveryPoint?.time ?? 'unknown'}${d.recoveryPoint?.lsn ? `, LSN ${d.recoveryPoint.lsn}` : ''}) in ${formatDuration(d.durationMs)}.`,
    `Mode: ${d.mode}; side schema: ${d.schema}`,
  ];
  for (const t of d.tables) out.push(`  ${t.name.padEnd(32)} → ${t.recoveredAs.padEnd(44)} ${String(t.rows).padStart(10)} rows  checksum equal`);
  for (const t of d.promoted?.tables ?? []) {
    out.push(
      d.promoted!.mode === 'merge'
        ? `  merged into ${t.name}: ${t.inserted} rows inserted, ${t.skipped} already there (kept)${t.conflicts ? `, ${t.conflicts} left out on another unique key` : ''}`
        : `  ${t.name} is now the recovered table${t.liveRenamedTo ? `; the live one was renamed to ${t.liveRenamedTo}` : ''}`,
    );
  }
  out.push(`Report: ${d.report}`);
  for (const n of d.nextSteps) out.push(`Next: ${n}`);
  return out;
}
