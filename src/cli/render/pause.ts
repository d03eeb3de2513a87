// Pause/resume lines: what happened to each delayed replica and what it holds.
import type { ReplicaPauseOutcome, ResumeOutcome } from '../../sources/delayed-replica/pause.js';
import { formatDuration } from '../../util/time.js';

function at(iso: string | null): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC') : 'unknown';
}

/** One line per replica. Pure. */
export function pauseLine(r: ReplicaPauseOutcome): string {
  if (r.outcome === 'failed') return `✖ ${r.name}: NOT paused — ${r.error?.message ?? 'unknown error'}${r.error?.hint ? ` (${r.error.hint})` : ''}`;
  if (r.outcome === 'not-delayed') return `· ${r.name}: no apply delay (recovery_min_apply_delay = 0): nothing to pause, it already replayed whatever production did`;
  const verb = r.outcome === 'paused' ? 'paused now' : r.outcome === 'already-paused' ? 'was already paused' : 'pause takes hold before its next commit (replay is waiting out its delay)';
  const holds = r.replayTime ? `; it holds everything committed before ${at(r.replayTime)}` : '';
  const behind = r.lagMs != null && r.delayMs != null ? ` (replay ran ${formatDuration(Math.max(0, r.lagMs))} behind, delay ${formatDuration(r.delayMs)})` : '';
  const left =
    r.leftMs == null
      ? r.lagMs != null && r.outcome === 'paused'
        ? `; an incident within the last ${formatDuration(Math.max(0, r.lagMs))} had not been replayed yet`
        : ''
      : r.leftMs > 0
        ? `; it had ${formatDuration(r.leftMs)} left before replaying the incident`
        : '; it had ALREADY reached the incident time when paused';
  return `✔ ${r.name}: ${verb}${holds}${behind}${left}`;
}

export function resumeLine(r: ResumeOutcome): string {
  if (r.outcome === 'failed') return `✖ ${r.name}: not resumed — ${r.error?.message ?? 'unknown error'}`;
  if (r.outcome === 'not-paused') return `· ${r.name}: replay was not paused; nothing done`;
  return `✔ ${r.name}: replay resumed (it was paused at ${at(r.replayTime)}); it now catches up and applies everything, the incident included, ${r.delayMs ? `${formatDuration(r.delayMs)} after it happened` : 'at once'}`;
}
