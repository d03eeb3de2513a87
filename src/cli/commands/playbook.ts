// `undrop playbook [NAME]`: options and help; what it does is imported when it runs (actions/playbook.ts).
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { Context } from '../context.js';
import type { PlaybookFlags } from '../actions/playbook.js';

function portArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1024 || n > 65535) throw new InvalidArgumentError('expected a port between 1024 and 65535');
  return n;
}

export function registerPlaybook(program: Command, ctx: () => Context): void {
  program
    .command('playbook [name]')
    .description('print a runbook (the manual procedure) for a source kind or for the whole incident, filled in from the inventory')
    .addOption(new Option('--format <format>', 'markdown (default), text for a terminal, json for tooling').choices(['markdown', 'text', 'json']))
    .option('--target <spec>', 'the destructive transaction: xid:N (undrop locate prints it), or before-incident to run locate now')
    .option('--target-xid <xid>', 'same as --target xid:N')
    .option('--tables <list>', 'the lost tables (default: the lab\'s, for a lab inventory)')
    .option('--source <name>', 'the inventory source to fill in (default: the first of the runbook\'s kind)')
    .option('--set <label>', 'the base backup, pgBackRest set, snapshot or dump file to use (default: the newest)')
    .option('--schema <name>', 'side schema to create in production (default recovered_YYYYMMDD_HHMMSS)')
    .option('--restore-dir <dir>', 'folder for the temporary instance (must not exist or be empty)', '/var/tmp/undrop-restore')
    .option('--port <port>', 'port of the temporary instance (default: a free one)', portArg)
    .action(async (name: string | undefined, flags: PlaybookFlags) => {
      const c = ctx();
      const { runPlaybook } = await import('../actions/playbook.js');
      await runPlaybook(c, name, flags);
    });
}
