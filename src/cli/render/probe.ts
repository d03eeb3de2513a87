// probe's human report: the time left on a delayed replica first (loud), the
// ranked table, then warnings and errors.
import type { ProbeReport } from '../../sources/probe-all.js';
import { rankResults, unusableReason } from '../../sources/rank.js';
import type { ProbeItem, ProbeResult, RecoveryPoint } from '../../sources/types.js';
import { formatBytes, formatDuration } from '../../util/time.js';

function showPoint(p: RecoveryPoint | null): string {
  if (!p) return '—';
  const time = p.time ? p.time.replace('T', ' ').replace(/\.\d+Z$|Z$/, 'Z') : 'time unknown';
  return `${time}${p.lsn ? ` @ ${p.lsn}` : ''}`;
}

const STATUS_MARK: Record<string, string> = { usable: 'usable', degraded: 'DEGRADED', unusable: 'UNUSABLE' };

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function itemLine(it: ProbeItem): string {
  const why = it.status === 'unusable' ? it.findings.find((f) => f.level === 'error')?.message : it.findings.find((f) => f.level === 'warn')?.message;
  return `      ${pad(STATUS_MARK[it.status]!, 9)} ${pad(it.label, 28)} ${pad(showPoint(it.recoveryPoint), 44)}${it.sizeBytes !== undefined ? ` ${formatBytes(it.sizeBytes)}` : ''}${why ? `  — ${why}` : ''}`;
}

/** A delayed replica's loud line, shown the moment its probe returns (null for other sources). Pure. */
export function replicaBanner(r: Pick<ProbeResult, 'name' | 'kind' | 'timeLeftMs'>): string | null {
  if (r.kind !== 'delayed-replica' || r.timeLeftMs === null || r.timeLeftMs === undefined) return null;
  return `!!! ${r.name}: ${formatDuration(Math.max(0, r.timeLeftMs))} LEFT before this replica replays the incident. Pause it now: undrop pause --source ${r.name} !!!`;
}

/** One finished probe, as it finishes (the guided flow's live list). Pure. */
export function probeLine(r: ProbeResult): string {
  const loss = r.lossWindowMs != null ? `, loses ${formatDuration(r.lossWindowMs)}` : '';
  const reason = unusableReason(r);
  return `${r.status === 'unusable' ? '✖' : '✔'} ${r.name} (${r.kind}): ${r.status}, recovery point ${showPoint(r.recoveryPoint)}${loss}${reason ? ` — ${reason}` : ''} (${formatDuration(r.durationMs)})`;
}

/** The human report: loud time-left first, then the ranked table, then warnings and errors. */
export function humanReport(report: ProbeReport): string[] {
  const lines: string[] = [];
  const ranked = rankResults(report.sources);
  for (const r of ranked) {
    const banner = replicaBanner(r);
    if (banner) lines.push(banner, '');
  }
  if (report.target) lines.push(`Target: ${report.target.time ?? report.target.commitLsn ?? report.target.xid ?? report.target.kind} (${report.target.origin})`);
  if (!report.production.reachable) lines.push(`Production not reached (${report.production.error}): system identifiers not compared.`);
  lines.push('');
  lines.push(`  #  ${pad('SOURCE', 18)} ${pad('KIND', 16)} ${pad('STATUS', 9)} ${pad('RECOVERY POINT', 44)} LOSS`);
  ranked.forEach((r, i) => {
    const loss = r.lossWindowMs === null || r.lossWindowMs === undefined ? '' : formatDuration(r.lossWindowMs);
    const reason = unusableReason(r);
    lines.push(`${pad(String(i + 1), 3)}  ${pad(r.name, 18)} ${pad(r.kind, 16)} ${pad(STATUS_MARK[r.status]!, 9)} ${pad(showPoint(r.recoveryPoint), 44)} ${loss}`);
    if (r.recoveryPoint?.basis) lines.push(`      (${r.recoveryPoint.basis})`);
    if (reason) lines.push(`      reason: ${reason}`);
    if (r.items && r.items.length > 1) for (const it of r.items) lines.push(itemLine(it));
    if (r.tables.length) {
      lines.push(`      tables: ${r.tables.map((t) => `${t.name}${t.present ? (t.rows !== null ? ` ${t.rowsKind === 'estimate' ? '~' : ''}${t.rows}` : '') : ' MISSING'}`).join(', ')}`);
    }
  });
  const problems = ranked.flatMap((r) => r.findings.filter((f) => f.level !== 'info').map((f) => ({ r, f })));
  if (problems.length) {
    lines.push('', 'Findings:');
    for (const { r, f } of problems) {
      lines.push(`  ${f.level === 'error' ? 'ERROR' : 'WARN '} ${r.name} [${f.code}] ${f.message}`);
      if (f.hint) lines.push(`        hint: ${f.hint}`);
    }
  }
  const usable = ranked.filter((r) => r.status !== 'unusable');
  lines.push('', usable.length ? `Best source: ${usable[0]!.name}. Probed ${report.sources.length} source(s) in ${formatDuration(report.durationMs)}.` : 'No usable source.');
  return lines;
}
