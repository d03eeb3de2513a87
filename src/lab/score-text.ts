// The drill's scorecard as Markdown (printed by `lab score`, written beside
// truth.json for the postmortem of the exercise).
import type { Scorecard } from './score.js';
import { formatDuration } from '../util/time.js';

const n = (x: number) => x.toLocaleString('en-US');
const time = (ms: number | null, none: string) => (ms === null ? none : formatDuration(ms));

export function scorecardMarkdownText(c: Scorecard): string {
  const out = [`# Drill scorecard: ${c.scenario}`, '', c.perfect ? '**Perfect score.** Every lost row is back, from the best source, with no mistakes.' : `**${n(c.rowsLost)} rows lost** of ${n(c.rowsRecovered + c.rowsLost)}; ${c.mistakes.length} mistake(s).`, ''];
  out.push(`Incident at ${c.incidentAt}; scored at ${c.scoredAt}.`, '');
  out.push('| table | before the incident | recovered | lost | exact | where |', '|---|---:|---:|---:|---|---|');
  for (const t of c.tables) out.push(`| ${t.name} | ${n(t.expectedRows)} | ${n(t.recoveredRows)} | ${n(t.lostRows)} | ${t.exact ? 'yes' : 'no'} | ${t.foundIn ?? 'not found'} |`);
  out.push('');
  out.push(`- Time from the incident to the replica's pause: ${time(c.timeToPauseMs, 'not recorded (no undrop pause, or no delayed replica)')}`);
  out.push(`- Time from the incident to the rows back: ${time(c.timeToRecoveredMs, 'not recovered')}${c.recoveredBasis === 'scored at' ? ' (at the latest: when scored; no undrop verify recorded)' : ''}`);
  out.push(`- Source used: ${c.source.used ?? 'unknown'}${c.source.basis ? ` (from ${c.source.basis})` : ''}; the scenario's best source (when the incident happened): ${c.source.best ?? 'unknown'} — ${c.source.matchesBest ? (c.rowsLost === 0 ? 'as good as the best (no row lost)' : 'as good as the best') : 'not the best'}`);
  out.push(`- Production writes before verification: ${c.productionWritesBeforeVerification}`);
  if (c.rowsLost > 0) out.push(`- Loss window: ${c.tables.filter((t) => t.lostRows > 0).map((t) => `${t.name} ${n(t.lostRows)} rows`).join(', ')} written before the incident are not in the recovered copy.`);
  out.push('');
  if (c.mistakes.length) {
    out.push('## Mistakes', '');
    for (const m of c.mistakes) out.push(`- **${m.code}**: ${m.message} (runbook step ${m.playbookStep})`);
    out.push('');
  }
  return out.join('\n');
}
