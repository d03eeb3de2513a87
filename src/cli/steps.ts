// Visible steps for long flows: an ora spinner on a terminal, plain lines
// otherwise (CI logs, --json). Confirmations go through one function so the
// guided flow and --no-input share the same code path.
import { confirm } from '@inquirer/prompts';
import ora from 'ora';
import { usageError } from '../errors.js';
import { formatDuration } from '../util/time.js';
import type { Context } from './context.js';
import { note } from './output.js';

export interface StepUi {
  step<T>(title: string, fn: (progress: (msg: string) => void) => Promise<T>): Promise<T>;
  confirm(message: string, details: string[]): Promise<boolean>;
  info(message: string): void;
}

export function stepUi(ctx: Context): StepUi {
  const tty = !!process.stderr.isTTY && !ctx.json;
  return {
    async step(title, fn) {
      const t0 = Date.now();
      if (!tty) {
        note(`→ ${title}`);
        const out = await fn((m) => note(`    ${m}`));
        note(`✔ ${title} (${formatDuration(Date.now() - t0)})`);
        return out;
      }
      const spinner = ora({ text: title, stream: process.stderr }).start();
      try {
        const out = await fn((m) => {
          spinner.text = `${title} — ${m}`;
        });
        spinner.succeed(`${title} (${formatDuration(Date.now() - t0)})`);
        return out;
      } catch (e) {
        spinner.fail(`${title} (${formatDuration(Date.now() - t0)})`);
        throw e;
      }
    },
    async confirm(message, details) {
      for (const d of details) note(`  ${d}`);
      if (ctx.yes) {
        note(`${message} yes (--yes)`);
        return true;
      }
      if (!ctx.interactive) {
        throw usageError('CONFIRMATION_NEEDED', `${message} — this needs a confirmation and undrop cannot ask (--no-input or no terminal).`, 'Add --yes to confirm from a script.');
      }
      return confirm({ message, default: false }, { output: process.stderr });
    },
    info(message) {
      note(message);
    },
  };
}
