// Visible steps for long flows: a spinner (render/progress.ts) on a terminal, plain lines
// otherwise (CI logs, --json). Confirmations go through one function so the
// guided flow and --no-input share the same code path.
import { confirm, select } from '@inquirer/prompts';
import type { LocatedEvent } from '../recovery/locate/index.js';
import type { OnConflict } from '../recovery/merge-conflicts.js';
import { mergePlanLines } from '../recovery/recover.js';
import type { RecoverUi } from '../recovery/recover-incident.js';
import type { Ora } from 'ora';
import { EXIT, UndropError, usageError } from '../errors.js';
import { formatDuration } from '../util/time.js';
import type { Context } from './context.js';
import { note } from './output.js';
import { spinner as startSpinner } from './render/progress.js';

export type StepUi = RecoverUi;

// The spinner of the running step, paused while a question is on screen.
let active: Ora | undefined;

async function asking<T>(ask: () => Promise<T>): Promise<T> {
  const s = active;
  s?.stop();
  try {
    return await ask();
  } catch (e) {
    throw promptStopped(e);
  } finally {
    s?.start();
  }
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

/** Pickers exist only when undrop may ask; otherwise their flags (--tables, --source) decide. */
function eventLine(e: LocatedEvent): string {
  return `${e.commitTime}  ${e.kind.toUpperCase()}  ${e.relations.map((r) => r.name ?? `file ${r.relfilenode}`).join(', ')}  (xid ${e.xid}${e.rowsLost != null ? `, ${e.rowsLost} rows` : ''})`;
}

const FOLD = 'unnamed' as const;

/** The picker's first page: named events (newest first), then one line folding the unnamed ones and saying why. Pure. */
export function eventChoices(events: readonly LocatedEvent[]): { value: LocatedEvent | typeof FOLD; name: string }[] {
  const named = events.filter((e) => !e.unnamedReason);
  const unnamed = events.filter((e) => e.unnamedReason);
  const reasons = [...new Set(unnamed.map((e) => e.unnamedReason!))].join('; ');
  return [
    ...named.map((e) => ({ value: e as LocatedEvent | typeof FOLD, name: eventLine(e) })),
    ...(unnamed.length ? [{ value: FOLD as LocatedEvent | typeof FOLD, name: `${unnamed.length} more without table names (${reasons}) …` }] : []),
  ];
}

/** Named events first; unnamed ones folded under one line (opened on request). */
async function pickEvent(events: LocatedEvent[], out: { output: NodeJS.WritableStream }): Promise<LocatedEvent> {
  const message = 'Which destructive transaction should be undone? (--tables and --target name it without asking)';
  const choice = await select<LocatedEvent | typeof FOLD>({ message, choices: eventChoices(events) }, out);
  if (choice !== FOLD) return choice;
  const unnamed = events.filter((e) => e.unnamedReason);
  return select({ message: 'Transactions whose files no catalog could name (recover then needs their tables named with --tables):', choices: unnamed.map((e) => ({ value: e, name: eventLine(e) })) }, out);
}

function pickers(ctx: Context): Pick<RecoverUi, 'pickEvent' | 'pickSource' | 'confirmUnnamed' | 'pickOnConflict'> {
  if (!ctx.interactive) return {};
  const out = { output: process.stderr };
  return {
    pickEvent: (events) => asking(() => pickEvent(events, out)),
    // Asked even under --yes: an unnamed transaction is a guess only a person may confirm.
    confirmUnnamed: (message, details) =>
      asking(async () => {
        for (const d of details) note(`  ${d}`);
        return confirm({ message, default: false }, out);
      }),
    pickSource: (report, best) => asking(() => select(
        {
          message: 'Recover from which source? (--source names it without asking)',
          default: best,
          choices: report.ranking.map((name) => {
            const r = report.sources.find((s) => s.name === name)!;
            const loss = r.lossWindowMs != null ? `, loses ${formatDuration(r.lossWindowMs)}` : '';
            return { value: name, name: `${name} (${r.kind}) — ${r.status}, recovery point ${r.recoveryPoint?.time ?? 'unknown'}${loss}${name === best ? '  [best]' : ''}`, disabled: r.status === 'unusable' ? 'unusable' : false };
          }),
        },
        out,
      )),
    pickOnConflict: (plan) => {
      const n = (plan.merge ?? []).reduce((a, t) => a + t.conflicts, 0);
      for (const l of mergePlanLines(plan.merge ?? [])) note(`  ${l}`);
      return asking(() => select<OnConflict>(
        {
          message: `Merge meets ${n} collision(s): live rows written since the incident hold the keys of recovered rows. What should happen? (--on-conflict)`,
          default: 'fail',
          choices: [
            { value: 'rekey-live', name: 'rekey-live: give the post-incident live rows new keys, bring every recovered row back under its original key' },
            { value: 'keep-live', name: 'keep-live: the live rows win; the recovered ones stay in the side schema (<table>__conflicts)' },
            { value: 'fail', name: 'fail: change nothing live (exit 1); the pairs go to <table>__conflicts to read; decide later with undrop promote' },
          ],
        },
        out,
      ));
    },
  };
}

export function stepUi(ctx: Context): StepUi {
  const tty = !!process.stderr.isTTY && !ctx.json;
  return {
    ...pickers(ctx),
    async step(title, fn) {
      const t0 = Date.now();
      if (!tty) {
        note(`→ ${title}`);
        const out = await fn((m) => note(`    ${m}`));
        note(`✔ ${title} (${formatDuration(Date.now() - t0)})`);
        return out;
      }
      const spinner = startSpinner(title);
      active = spinner;
      try {
        const out = await fn((m) => {
          spinner.text = `${title} — ${m}`;
        });
        spinner.succeed(`${title} (${formatDuration(Date.now() - t0)})`);
        return out;
      } catch (e) {
        spinner.fail(`${title} (${formatDuration(Date.now() - t0)})`);
        throw e;
      } finally {
        active = undefined;
      }
    },
    async confirm(message, details) {
      active?.stop();
      for (const d of details) note(`  ${d}`);
      active?.start();
      if (ctx.yes) {
        note(`${message} yes (--yes)`);
        return true;
      }
      if (!ctx.interactive) {
        throw usageError('CONFIRMATION_NEEDED', `${message} — this needs a confirmation and undrop cannot ask (--no-input or no terminal).`, 'Add --yes to confirm from a script.');
      }
      return asking(() => confirm({ message, default: false }, { output: process.stderr }));
    },
    info(message) {
      active?.stop();
      note(message);
      active?.start();
    },
  };
}
