// The incident folder: <work dir>/incidents/incident_<YYYYMMDD_HHMMSS>/ with
//   timeline.jsonl  every step (start, end, duration, failure), every program
//                   run (redacted command line, exit code, duration), every
//                   LSN and fact, one JSON object per line, written as it happens;
//   report.md       the postmortem summary, written by finish().
// The recover command feeds it what it learns (probe results, the chosen
// source, the materialized instance, copy back, verify, promote) and passes
// it as the Timeline of the library calls.
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage, isUndropError } from '../errors.js';
import { onCommand } from '../postgres/run.js';
import { redact } from '../util/redact.js';
import { stamp } from '../util/time.js';
import type { IncidentFacts, StepRecord } from './incident-facts.js';
import { renderReport } from './report.js';
import type { Timeline } from './timeline.js';

export type { IncidentFacts, RecoverMode, StepRecord } from './incident-facts.js';

export interface IncidentLogOptions {
  workDir: string;
  now?: Date;
  /** Do not record program runs (tests). */
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
      this.unsubscribe = onCommand((e) => this.write({ type: e.exitCode === undefined ? 'command-start' : 'command-end', ...e }));
    }
  }

  static open(o: IncidentLogOptions): IncidentLog {
    const now = o.now ?? new Date();
    const base = join(o.workDir, 'incidents', `incident_${stamp(now)}`);
    let dir = base;
    for (let i = 2; existsSync(dir); i++) dir = `${base}_${i}`;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const log = new IncidentLog(dir, now, !!o.noCommands);
    log.write({ type: 'incident-opened', dir });
    return log;
  }

  private write(entry: Record<string, unknown>): void {
    const line = redact(JSON.stringify({ ts: new Date().toISOString(), ...entry }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
    appendFileSync(this.timelinePath, `${line}\n`);
  }

  event(type: string, data: Record<string, unknown> = {}): void {
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

  /** Write report.md, stop recording commands, return the report's path. Safe to call once at the very end, success or not. */
  finish(outcome: { ok: boolean; error?: unknown }): string {
    this.facts.finishedAt = new Date().toISOString();
    const e = outcome.error;
    this.facts.outcome = {
      ok: outcome.ok,
      error: e === undefined ? undefined : { code: isUndropError(e) ? e.code : undefined, message: errorMessage(e), hint: isUndropError(e) ? e.hint : undefined },
    };
    this.write({ type: 'incident-closed', ok: outcome.ok, error: this.facts.outcome.error });
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    writeFileSync(this.reportPath, redact(renderReport(this.facts, this.steps, { timeline: this.timelinePath })));
    return this.reportPath;
  }
}
