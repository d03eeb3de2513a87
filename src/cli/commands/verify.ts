// `undrop verify`: options and help; what it does is imported when it runs (actions/verify.ts).
import type { Command } from 'commander';
import type { Context } from '../context.js';
import type { VerifyFlags } from '../actions/verify.js';

export function registerVerify(program: Command, ctx: () => Context): void {
  program
    .command('verify')
    .description('restore test: materialize each source into a temporary instance, run the validation suite, tear it down (exit 3 when one fails)')
    .option('--source <name>', 'test only this source')
    .option('--tables <list>', 'tables that must be there (default: every table of production, or the inventory\'s verify.tables)')
    .option('--database <name>', 'database to check (default: production DSN\'s)')
    .option('--strict', 'exit 3 when any source is not healthy (always so for verify; accepted for symmetry with probe --strict)')
    .option('--prom-file <path>', 'also write Prometheus textfile-collector metrics there (atomically)')
    .option('--format <format>', 'output: text (default) or nagios (one line, Nagios exit codes 0/2/3)')
    .option('--max-parallel <n>', 'sources restored at once (default 1)')
    .action(async (flags: VerifyFlags) => {
      const c = ctx();
      const { runVerify } = await import('../actions/verify.js');
      await runVerify(c, flags);
    });
}
