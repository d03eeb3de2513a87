// The one progress layer: ora spinners on stderr. Sequential steps (recover,
// the lab) get one spinner each; probe's parallel sources share one spinner
// and leave a ✔/✖ line as each finishes. ora over listr2: every long flow
// but probe is a sequence of steps that may stop for a question, and a
// spinner pauses around a prompt with stop()/start(); one library is enough.
// ora is imported on first use: a run that draws no spinner (--json, a log
// file, a script) does not pay for loading it.
import type { Ora } from 'ora';
import type { Progress } from '../../lab/progress.js';
import { formatDuration } from '../../util/time.js';
import { note } from '../output.js';
import { colorEnabled } from '../color-env.js';

/**
 * A terminal that reports 0 columns (a pty nobody sized: script(1), some CI
 * runners) makes ora redraw forever (megabytes of cursor-up): plain lines there.
 */
const animated = () => !!process.stderr.isTTY && (process.stderr.columns ?? 0) > 0;

type OraFn = typeof import('ora').default;
let oraFn: OraFn | undefined;
const loadOra = async (): Promise<OraFn> => (oraFn ??= (await import('ora')).default);

const startSpinner = (ora: OraFn, title: string): Ora => ora({ text: title, stream: process.stderr, discardStdin: false, isEnabled: animated(), color: colorEnabled() ? 'cyan' : false }).start();

/** A spinner for one step, on stderr (ora prints plain ✔/✖ lines when stderr is not a terminal). */
export async function spinner(title: string): Promise<Ora> {
  return startSpinner(await loadOra(), title);
}

/** The lab's progress events as spinners. */
export async function labProgress(): Promise<Progress> {
  const ora = await loadOra();
  const spinner = (title: string) => startSpinner(ora, title);
  let current: Ora | undefined;
  const finish = () => {
    const s = current ?? ora({ stream: process.stderr, discardStdin: false, isEnabled: animated() });
    current = undefined;
    return s;
  };
  return (e) => {
    switch (e.type) {
      case 'start':
        current = spinner(e.title);
        break;
      case 'done':
        finish().succeed(`${e.title}${e.detail ? ` — ${e.detail}` : ''} (${formatDuration(e.durationMs)})`);
        break;
      case 'fail':
        finish().fail(e.title);
        break;
      case 'note':
        note(`note: ${e.text}`);
        break;
    }
  };
}

export interface ParallelProgress {
  done(name: string, text: string, ok: boolean): void;
  /** A line that must be seen now, above the spinner (or plain off a terminal). */
  note(text: string): void;
  stop(): void;
}

/** Tasks running at once (probe's sources): one spinner naming those still running; silent when not on a terminal. */
export async function parallelProgress(names: readonly string[], onTerminal: boolean): Promise<ParallelProgress> {
  const running = new Set(names);
  const label = () => `probing ${[...running].join(', ')}`;
  const s = onTerminal && running.size ? await spinner(label()) : undefined;
  return {
    done(name, text, ok) {
      running.delete(name);
      if (!s) return;
      s.stopAndPersist({ symbol: ok ? '✔' : '✖', text: `${name}: ${text}` });
      if (running.size) s.start(label());
    },
    note(text) {
      s?.stop();
      note(text);
      if (s && running.size) s.start(label());
    },
    stop() {
      s?.stop();
    },
  };
}
