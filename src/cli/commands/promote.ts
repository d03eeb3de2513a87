// `undrop promote`: options and help; what it does is imported when it runs (actions/promote.ts).
import type { Command } from 'commander';
import { Option } from 'commander';
import type { Context } from '../context.js';
import type { PromoteFlags } from '../actions/promote.js';
import { onConflictOption } from './recover.js';

export function registerPromote(program: Command, ctx: () => Context): void {
  program
    .command('promote')
    .description('promote a side schema that undrop recover copied back and verified (merge or replace), without restoring again; its checksums are checked first')
    .requiredOption('--schema <name>', 'the side schema (undrop_YYYYMMDD_HHMMSS, named in the recover report)')
    .addOption(new Option('--mode <mode>', 'merge the missing rows into the live tables, or replace them').choices(['merge', 'replace']).makeOptionMandatory())
    .option('--tables <list>', 'only these tables of the side schema (default: all)')
    .option('--database <name>', 'database the side schema is in (default: production DSN\'s)')
    .addOption(onConflictOption())
    .option('--lock-timeout <time>', 'how long promote waits for a lock on a live table (5000 = ms, or 5s, 500ms)', '5000')
    .option('--statement-timeout <time>', 'promote: the longest any one statement may run while it holds the live tables\' locks (default: none; 30s, 2min)')
    .option('--recreate-foreign-keys', 'with --mode replace: re-create foreign keys from other live tables to the replaced ones')
    .option('--allow-dependents', 'with --mode replace: replace even when views, rules, policies, publications, partitions or triggers point at a live table (they keep pointing at the renamed one)')
    .action(async (flags: PromoteFlags) => {
      const c = ctx();
      const { runPromote } = await import('../actions/promote.js');
      await runPromote(c, flags);
    });
}
