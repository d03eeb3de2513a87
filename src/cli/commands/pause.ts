// `undrop pause` and `undrop resume`: options and help; what they do is
// imported when they run (actions/pause.ts).
import type { Command } from 'commander';
import type { Context } from '../context.js';
import type { PauseFlags } from '../actions/pause.js';

export function registerPause(program: Command, ctx: () => Context): void {
  program
    .command('pause')
    .description('FIRST THING in an incident: pause replay on every delayed replica now, before it replays the DROP (no question asked; undo: undrop resume)')
    .option('--source <name...>', 'only these delayed replicas (default: all of them)')
    .option('--incident-time <time>', 'when the incident happened (ISO 8601 with zone): prints how long each replica had left')
    .action(async (flags: PauseFlags) => {
      const c = ctx();
      const { runPause } = await import('../actions/pause.js');
      await runPause(c, flags);
    });
}

export function registerResume(program: Command, ctx: () => Context): void {
  program
    .command('resume')
    .description('resume replay on paused delayed replicas (they then replay the incident after their delay: only once the data is safe)')
    .option('--source <name...>', 'only these delayed replicas (default: all of them)')
    .action(async (flags: PauseFlags) => {
      const c = ctx();
      const { runResume } = await import('../actions/pause.js');
      await runResume(c, flags);
    });
}
