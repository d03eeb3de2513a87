// The incident folder: <work dir>/incidents/incident_<YYYYMMDD_HHMMSS>/ with
//   timeline.jsonl  every step (start, end, duration, failure) and the phases
//                   inside (phases.ts), every program
//                   run (redacted command line, exit code, duration), every
//                   LSN and fact, one JSON object per line, written as it happens;
//   report.md       the postmortem summary, written by finish().
// The recover command feeds it what it learns (probe results, the chosen
// source, the materialized instance, copy back, verify, promote) and passes
// it as the Timeline of the library calls.
import { closeSync, constants, fstatSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage, isUndropError } from '../errors.js';
import { onPhase } from '../postgres/phases.js';
import { onCommand } from '../postgres/run.js';
import { incidentsDir } from '../postgres/work-dir.js';
import { redact, redactValue } from '../util/redact.js';
import { stamp } from '../util/time.js';
import type { IncidentFacts, StepRecord } from './incident-facts.js';
import { renderReport } from './report.js';
import { COMMITTED } from './timeline.js';
import type { Timeline } from './timeline.js';

export type { IncidentFacts, RecoverMode, StepRecord } from './incident-facts.js';

export interface IncidentLogOptions {
  workDir: string;
  now?: Date;
  /** Do not record program runs nor phases (tests). */
  noCommands?: boolean;
}

export class IncidentLog implements Timeline {
  readonly dir: string;
  readonly timelinePath: string;
  readonly reportPath: string;
  readonly steps: StepRecord[] = [];
  readonly facts: IncidentFacts;
  private unsubscribe: (() => void) | undefined;

  private constructor(dir: string, now: Date, noCommands: boolean) {
    this.dir = dir;
    this.timelinePath = join(dir, 'timeline.jsonl');
    this.reportPath = join(dir, 'report.md');
    this.facts = { startedAt: now.toISOString() };
    if (!noCommands) {
      const commands = onCommand((e) => this.write({ type: e.exitCode === undefined ? 'command-start' : 'command-end', ...e }));
      // The parts of a step (materialize's copy, start, replay …): phase-end carries the duration.
      const phases = onPhase((e) => this.write({ type: e.durationMs === undefined ? 'phase-start' : e.failed ? 'phase-failed' : 'phase-end', ...e }));
      this.unsubscribe = () => {
        commands();
        phases();
      };
    }
  }

  static open(o: IncidentLogOptions): IncidentLog {
    const now = o.now ?? new Date();
    // incidentsDir checks the work directory (owner, mode, no symlink) before anything is written.
    const base = join(incidentsDir(o.workDir), `incident_${stamp(now)}`);
    let dir = base;
    // mkdir without recursive fails on anything already there (a planted link included).
    for (let i = 2; ; i++) {
      try {
        mkdirSync(dir, { mode: 0o700 });
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || i > 1000) throw e;
        dir = `${base}_${i}`;
      }
    }
    const log = new IncidentLog(dir, now, !!o.noCommands);
    log.write({ type: 'incident-opened', dir });
    return log;
  }

  private timelineFd: number | undefined;
  private timelineCreated = false;

  /** Why the timeline or the report could not be written (a full disk): the run goes on, and says so. */
  unwritable: string | undefined;
  /** Lines that could not be written yet; retried with every later write. */
  private pending: string[] = [];

  private write(entry: Record<string, unknown>): void {
    // Structured redaction first, then serialization: the JSON stays valid and no secret reaches it.
    this.pending.push(JSON.stringify(redactValue({ ts: new Date().toISOString(), ...entry })));
    try {
      if (this.timelineFd === undefined) {
        // Created once exclusively; a write after finish() reopens the same file, still never through a link.
        this.timelineFd = this.timelineCreated ? openSync(this.timelinePath, constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW) : createExclusive(this.timelinePath);
        this.timelineCreated = true;
      }
      appendWhole(this.timelineFd, Buffer.from(this.pending.map((l) => `${l}\n`).join('')));
      this.pending = [];
    } catch (e) {
      // Never let the log break the recovery it records (a full work directory): keep the lines, say so at the end.
      this.unwritable = errorMessage(e);
    }
  }

  event(type: string, data: Record<string, unknown> = {}): void {
    // kept as a fact the moment it happens: a stop before the step returns must not say nothing was written
    if (type === COMMITTED) this.facts.committed = [...(this.facts.committed ?? []), { step: String(data.step), ...(typeof data.schema === 'string' ? { schema: data.schema } : {}) }];
    this.write({ type, ...data });
  }

  lsn(label: string, lsn: string | null, server: string): void {
    this.write({ type: 'lsn', label, lsn, server });
  }

  async step<T>(name: string, fn: () => Promise<T>, detail: Record<string, unknown> = {}): Promise<T> {
    const rec: StepRecord = { name, startedAt: new Date().toISOString(), durationMs: null, ok: null };
    this.steps.push(rec);
    this.write({ type: 'step-start', step: name, ...detail });
    const t0 = Date.now();
    try {
      const out = await fn();
      rec.durationMs = Date.now() - t0;
      rec.ok = true;
      this.write({ type: 'step-end', step: name, durationMs: rec.durationMs });
      return out;
    } catch (e) {
      rec.durationMs = Date.now() - t0;
      rec.ok = false;
      rec.error = errorMessage(e);
      this.write({ type: 'step-failed', step: name, durationMs: rec.durationMs, error: rec.error, code: isUndropError(e) ? e.code : undefined });
      throw e;
    }
  }

  /** Record a fact for the report (and the timeline). */
  record<K extends keyof IncidentFacts>(key: K, value: IncidentFacts[K]): void {
    this.facts[key] = value;
    this.write({ type: 'fact', key, value: value as unknown });
  }

  /** Steps started and not ended, outermost first ("copy back", "copy rows (COPY binary)"). */
  unfinishedSteps(): string[] {
    return this.steps.filter((s) => s.ok === null).map((s) => s.name);
  }

  private finished = false;

  /**
   * Write report.md, stop recording commands, return the report's path. The
   * first call wins: a run stopped by a signal finishes from the signal
   * handler, and the failing run that follows must not overwrite that.
   */
  finish(outcome: { ok: boolean; error?: unknown }): string {
    if (this.finished) return this.reportPath;
    this.finished = true;
    this.facts.finishedAt = new Date().toISOString();
    const e = outcome.error;
    this.facts.outcome = {
      ok: outcome.ok,
      error: e === undefined ? undefined : { code: isUndropError(e) ? e.code : undefined, message: errorMessage(e), hint: isUndropError(e) ? e.hint : undefined },
    };
    this.write({ type: 'incident-closed', ok: outcome.ok, error: this.facts.outcome.error });
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.timelineFd !== undefined) closeSync(this.timelineFd);
    this.timelineFd = undefined;
    try {
      const fd = createExclusive(this.reportPath);
      try {
        writeSync(fd, redact(renderReport(redactValue(this.facts), this.steps, { timeline: this.timelinePath })));
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      this.unwritable = errorMessage(e);
    }
    return this.reportPath;
  }
}

/**
 * Append all of `text` or nothing: a disk that fills mid-write leaves a short write and then ENOSPC;
 * the file is cut back to where it was, so the timeline never holds a torn line (the lines are retried).
 */
function appendWhole(fd: number, text: Buffer): void {
  const before = fstatSync(fd).size;
  try {
    for (let done = 0; done < text.length; ) done += writeSync(fd, text, done);
  } catch (e) {
    try {
      ftruncateSync(fd, before);
    } catch {
      /* nothing more to do: the error below says the timeline is incomplete */
    }
    throw e;
  }
}

/** A new file, never an existing one and never through a symlink (O_EXCL | O_NOFOLLOW), readable by its owner only. */
function createExclusive(path: string): number {
  return openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW | constants.O_APPEND, 0o600);
}
