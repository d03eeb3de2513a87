// Visible steps for long flows: a spinner (render/progress.ts) on a terminal, plain lines
// otherwise (CI logs, --json). Confirmations go through one function so the
// guided flow and --no-input share the same code path. The prompt library
// is imported when a question is asked: a run that cannot ask (--yes,
// --no-input, no terminal) never loads it.
import type { LocatedEvent } from '../recovery/locate/index.js';
import type { OnConflict } from '../recovery/merge-conflicts.js';
import type { RecoverUi } from '../recovery/recover-checklist.js';
import type { Ora } from 'ora';
import { EXIT, UndropError, usageError } from '../errors.js';
import { formatDuration } from '../util/time.js';
import type { Context } from './context.js';
import { note } from './output.js';
import { spinner as startSpinner } from './render/progress.js';
import { bindAnswers, recordAnswer } from './answers.js';
import { FOLD, confirmPrompt, eventPrompt, onConflictPrompt, sourcePrompt, unnamedPrompt } from './guided/prompts.js';

export type StepUi = RecoverUi;

// The spinner of the running step, paused while a question is on screen.
let active: Ora | undefined;
// The detail lines shown last with a question (not repeated by the confirmation that follows).
let lastDetails = '';
// Milliseconds spent waiting for a person since start: step timers leave them out.
let waitedMs = 0;

export async function asking<T>(ask: () => Promise<T>): Promise<T> {
  const s = active;
  s?.stop();
  const t0 = Date.now();
  try {
    return await ask();
  } catch (e) {
    throw promptStopped(e);
  } finally {
    waitedMs += Date.now() - t0;
    s?.start();
  }
}

/** A step's own time: wall time minus the time a question was on screen. */
function stepClock(): () => number {
  const t0 = Date.now();
  const w0 = waitedMs;
  return () => Date.now() - t0 - (waitedMs - w0);
}

/**
 * Off a terminal: at most one progress line every few seconds per phase
 * ("copying public.invoices", "building 4 indexes": the text before the first
 * colon), and a new phase always shows. Per phase, because tables copied in
 * parallel take turns: one shared clock let every chunk's line through (~1,000
 * lines per recover). Pure given the clock.
 */
export function throttle(print: (m: string) => void, everyMs: number, now: () => number = Date.now): (m: string) => void {
  const last = new Map<string, number>();
  return (m) => {
    const p = m.split(':')[0]!;
    const t = now();
    const before = last.get(p);
    if (before !== undefined && t - before < everyMs) return;
    last.set(p, t);
    print(m);
  };
}

/**
 * Ctrl-C at a prompt arrives as the prompt library's ExitPromptError (the
 * terminal is in raw mode: no signal). It is a stop, not a bug: exit 130.
 * The recover flow rewrites the message with production's state.
 */
export function promptStopped(e: unknown): unknown {
  if (e instanceof Error && e.name === 'ExitPromptError') {
    return new UndropError('INTERRUPTED', 'Stopped at a question (Ctrl-C). Nothing was changed.', { exitCode: EXIT.interrupted, hint: 'Run undrop again when ready; every question has a flag (undrop recover --help).' });
  }
  return e;
}

/** Named events first; unnamed ones folded under one line (opened on request); undrop's own drops shown apart. */
async function pickEvent(events: LocatedEvent[], undrop: LocatedEvent[], out: { output: NodeJS.WritableStream }): Promise<LocatedEvent> {
  const { select } = await import('@inquirer/prompts');
  const now = Date.now();
  const choice = await select<LocatedEvent | typeof FOLD>(eventPrompt(events, undrop, now), out);
  if (choice !== FOLD) return choice;
  return select(unnamedPrompt(events.filter((e) => e.unnamedReason), now), out);
}

/** Ask, then record the answer in the timeline. */
async function ask<T>(question: string, prompt: () => Promise<T>, shown: (v: T) => unknown = (v) => v): Promise<T> {
  const v = await asking(prompt);
  recordAnswer(question, shown(v), 'interactive');
  return v;
}

function pickers(ctx: Context): Pick<RecoverUi, 'pickEvent' | 'pickSource' | 'confirmUnnamed' | 'pickOnConflict'> {
  if (!ctx.interactive) return {};
  const out = { output: process.stderr };
  return {
    pickEvent: (events, undrop = []) => ask('which destructive transaction', () => pickEvent(events, undrop, out), (e) => ({ xid: e.xid, kind: e.kind, commitTime: e.commitTime, relations: e.relations.map((r) => r.name) })),
    // Asked even under --yes: an unnamed transaction is a guess only a person may confirm.
    confirmUnnamed: (message, details) =>
      ask(message, async () => {
        for (const d of details) note(`  ${d}`);
        const { confirm } = await import('@inquirer/prompts');
        return confirm(confirmPrompt(message), out);
      }),
    pickSource: (report, best) => ask('which source', async () => (await import('@inquirer/prompts')).select(sourcePrompt(report, best), out)),
    pickOnConflict: async (plan) => {
      const { mergePlanLines } = await import('../recovery/copy-verify-promote.js');
      const n = (plan.merge ?? []).reduce((a, t) => a + t.conflicts, 0);
      for (const l of mergePlanLines(plan.merge ?? [])) note(`  ${l}`);
      lastDetails = mergePlanLines(plan.merge ?? []).join('\n');
      return ask('merge collisions (--on-conflict)', async () => (await import('@inquirer/prompts')).select<OnConflict>(onConflictPrompt(n), out));
    },
  };
}

function info(message: string): void {
  active?.stop();
  note(message);
  active?.start();
}

export function stepUi(ctx: Context): StepUi {
  // -q: no spinner either (results and errors only).
  const tty = !!process.stderr.isTTY && !ctx.json && !ctx.quiet;
  return {
    ...pickers(ctx),
    async step(title, fn) {
      const elapsed = stepClock();
      if (!tty) {
        note(`→ ${title}`);
        const out = await fn(throttle((m) => note(`    ${m}`), ctx.verbose ? 250 : 5000));
        note(`✔ ${title} (${formatDuration(elapsed())})`);
        return out;
      }
      const spinner = await startSpinner(title);
      active = spinner;
      // -v: progress also as lines that stay (a few a second at most).
      const keep = throttle((m) => info(`    ${m}`), 250);
      try {
        const out = await fn((m) => {
          spinner.text = `${title} — ${m}`;
          if (ctx.verbose) keep(m);
        });
        spinner.succeed(`${title} (${formatDuration(elapsed())})`);
        return out;
      } catch (e) {
        spinner.fail(`${title} (${formatDuration(elapsed())})`);
        throw e;
      } finally {
        active = undefined;
      }
    },
    async confirm(message, details) {
      active?.stop();
      // The same lines were just shown with the question before (merge preview, then its confirmation): once is enough.
      if (details.join('\n') !== lastDetails) for (const d of details) note(`  ${d}`);
      lastDetails = details.join('\n');
      active?.start();
      if (ctx.yes) {
        note(`${message} yes (--yes)`);
        recordAnswer(message, true, '--yes');
        return true;
      }
      if (!ctx.interactive) {
        throw usageError('CONFIRMATION_NEEDED', `${message} — this needs a confirmation and undrop cannot ask (--no-input or no terminal).`, 'Add --yes to confirm from a script.');
      }
      return ask(message, async () => (await import('@inquirer/prompts')).confirm(confirmPrompt(message), { output: process.stderr }));
    },
    info,
    bindLog: bindAnswers,
  };
}
