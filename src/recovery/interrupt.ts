// What a person must read when a run stops half way (a signal, Ctrl-C at a
// prompt): where it stopped, what production holds now, and whether a
// delayed replica is still paused. The same words go to the terminal and to
// the report, which is written before anything is torn down.
import { UndropError, EXIT } from '../errors.js';
import { onInterruptHook } from '../postgres/cleanup.js';
import type { IncidentFacts } from './incident-facts.js';
import type { IncidentLog } from './incident-log.js';

/** Where production stands, from what the log recorded and the step that was running. Pure. */
export function productionState(f: IncidentFacts, unfinished: string[]): string {
  const promoting = unfinished.find((s) => s.startsWith('promote'));
  // a COMMIT that answered counts at once, before its step returned and recorded its result
  const landed = (step: string) => !!f.committed?.some((c) => c.step === step);
  const promoted = f.replace || landed('promote (replace)') ? 'the live tables were replaced (see the report)' : f.merge?.committed || landed('promote (merge)') ? 'the recovered rows were merged into the live tables (see the report)' : undefined;
  if (promoted) return `Production: ${promoted}.`;
  const schema = f.copyBack?.schema ?? f.committed?.find((c) => c.schema)?.schema;
  if (schema) {
    const side = `the recovered tables were copied into side schema ${schema} (committed)`;
    return promoting ? `Production: ${side}; the promote transaction was not committed, so PostgreSQL rolls it back: nothing live was changed.` : `Production: ${side}; nothing live was changed.`;
  }
  if (unfinished.includes('copy back')) return 'Production: the copy back transaction was not committed (nothing is published before its last one; the staging schema is dropped as undrop stops): nothing was written.';
  if (promoting) return 'Production: the promote transaction was not committed, so PostgreSQL rolls it back: nothing live was changed.';
  return 'Production: nothing was changed.';
}

/** The error a stopped run ends with: exit 130 (129 for SIGHUP), message naming the step and production's state. */
export function interruptedError(how: string, f: IncidentFacts, unfinished: string[], signal?: NodeJS.Signals): UndropError {
  const at = unfinished.length ? ` at step ${unfinished.join(' › ')}` : '';
  const e = new UndropError('INTERRUPTED', `Stopped (${how})${at}. ${productionState(f, unfinished)}`, {
    hint: 'Temporary instances and copies were removed. Run the same command again when ready; the incident folder keeps what happened so far.',
    exitCode: signal === 'SIGHUP' ? EXIT.hangup : EXIT.interrupted,
  });
  return e;
}

/**
 * On a signal: record it, write the report ("interrupted at step X") and
 * print the stop line plus the next steps (a paused replica's resume
 * command) before the cleanups run. Returns the unhook function.
 */
export function watchInterrupt(log: IncidentLog, say: (line: string) => void, nextSteps: () => string[]): () => void {
  return onInterruptHook((signal) => {
    const unfinished = log.unfinishedSteps();
    const err = interruptedError(signal === 'SIGHUP' ? 'SIGHUP: the terminal went away' : signal, log.facts, unfinished, signal);
    log.event('interrupted', { signal, steps: unfinished });
    const steps = nextSteps();
    log.record('nextSteps', steps);
    const report = log.finish({ ok: false, error: err });
    for (const line of [err.message, ...steps, `Incident report: ${report}`]) say(line);
  });
}
