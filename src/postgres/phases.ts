// The parts of a long step (a materialize's copy, start, replay, promotion;
// a probe's verification), timed and announced to listeners, as run.ts
// announces programs: the incident log records them (phase-start /
// phase-end) and the bench shows where a step's time goes. Nothing is
// passed down through the callers, and with no listener a phase costs a
// clock read.

import { channel } from '../util/channel.js';

export interface PhaseEvent {
  phase: string;
  /** Set on the end: how long the phase took (also when it failed). */
  durationMs?: number;
  failed?: boolean;
}

const phases = channel<PhaseEvent>();

/** Subscribe to every phase's start and end. */
export const onPhase = phases.on;
const announce = phases.emit;

/** Run fn as a named phase ("materialize: start (to consistency)"). */
export async function phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  announce({ phase: name });
  const t0 = Date.now();
  try {
    const out = await fn();
    announce({ phase: name, durationMs: Date.now() - t0 });
    return out;
  } catch (e) {
    announce({ phase: name, durationMs: Date.now() - t0, failed: true });
    throw e;
  }
}
