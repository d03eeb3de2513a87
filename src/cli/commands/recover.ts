// `undrop recover` and the guided flow (`undrop` alone): options and help here;
// what they do is imported when they run (actions/recover.ts, guided/flow.ts),
// so that every other command starts without the recovery code.
import type { Command } from 'commander';
import { Option } from 'commander';
import { usageError } from '../../errors.js';
import { ON_CONFLICT_CHOICES } from '../../recovery/merge-conflicts.js';
import { TOAST_COMPRESSION_CHOICES } from '../../recovery/toast-compression.js';
import { SELECTIVE_LEVELS } from '../../sources/types.js';
import type { Context } from '../context.js';
import { suggest } from '../suggest.js';
import type { RecoverFlags } from '../actions/recover.js';

export function registerRecover(program: Command, ctx: () => Context): void {
  program
    .command('recover')
    .description('bring tables back: find the target, probe, extract from the best source, copy into a side schema, verify, optionally promote')
    .option('--tables <list>', 'tables to recover (comma-separated, SQL spelling: shipments,"Sales"."Order Items")')
    .option('--source <name>', 'source to use, or auto (the best-ranked usable one)', 'auto')
    .option('--target <spec>', 'before-incident (default: found in WAL), xid:N, lsn:X/Y, time:ISO-8601 with zone, name:RESTORE_POINT, latest')
    .option('--target-xid <xid>', 'stop just before this transaction (same as --target xid:N)')
    .option('--target-lsn <lsn>', 'stop just before this LSN (same as --target lsn:X/Y)')
    .option('--target-time <time>', 'stop just before this time; a zone is required (2026-11-25T01:42:48.123456Z)')
    .option('--target-name <name>', 'stop at this restore point (pg_create_restore_point)')
    .option('--target-timeline <tli>', 'timeline to follow: a number, latest (default) or current')
    .option('--set <label>', 'use this base backup, pgBackRest set, dump file or snapshot (default: the newest before the target)')
    .addOption(new Option('--mode <mode>', 'side-schema only, or then replace / merge the live tables').choices(['side-schema', 'replace', 'merge']).default('side-schema'))
    .option('--schema <name>', 'side schema to create in production (default undrop_YYYYMMDD_HHMMSS)')
    .option('--database <name>', 'database the tables are in (default: production DSN\'s)')
    .option('--keep', 'keep the temporary instance and print how to connect and remove it')
    .option('--process-max <n>', 'pgBackRest sources: parallel restore processes (default: the cores available)')
    .option('--jobs <n>', 'copy back: at most N connections to production at once, one table loading on each (default: the tables, up to 4)')
    .addOption(new Option('--toast-compression <method>', 'copy back: how the recovered rows\' large values are compressed: lz4 (default where production offers it: several times faster than pglz) or server (production\'s default_toast_compression)').choices([...TOAST_COMPRESSION_CHOICES]))
    .addOption(new Option('--selective <level>', 'base backups and snapshots: what to leave out (sparse) when certainly safe: relations (default; PITR and snapshots: the other tables of the lost tables\' database too), database (the other databases; default with --keep or a tar.gz backup), off (restore or copy everything)').choices([...SELECTIVE_LEVELS]))
    .option('--lock-timeout <time>', 'how long promote waits for a lock on a live table (5000 = ms, or 5s, 500ms)', '5000')
    .option('--statement-timeout <time>', 'promote: the longest any one statement may run while it holds the live tables\' locks (default: none; 30s, 2min)')
    .option('--recreate-foreign-keys', 'with --mode replace: re-create foreign keys from other live tables to the replaced ones')
    .option('--allow-dependents', 'with --mode replace: replace even when views, rules, policies, publications, partitions or triggers point at a live table (they keep pointing at the renamed one)')
    .addOption(onConflictOption())
    .action(async (flags: RecoverFlags) => {
      const c = ctx();
      const { runRecover } = await import('../actions/recover.js');
      await runRecover(c, flags);
    });
}

export function registerGuided(program: Command, ctx: () => Context): void {
  // The root action would swallow a mistyped command as an argument: name it instead.
  program.allowExcessArguments(true).action(async (_opts: unknown, cmd: Command) => {
    const typed = cmd.args[0];
    if (typed !== undefined) {
      const known = program.commands.map((x) => x.name());
      const close = suggest(typed, known);
      throw usageError('UNKNOWN_COMMAND', `unknown command '${typed}'.`, close.length ? `Did you mean: undrop ${close[0]}? (undrop help lists: ${known.join(', ')})` : `Commands: ${known.join(', ')} (undrop help).`);
    }
    const c = ctx();
    if (!c.interactive) {
      throw usageError('GUIDED_NEEDS_TERMINAL', 'undrop without a command is the guided recovery, and it needs a terminal to ask questions.', 'Run a command instead (undrop --help), for example: undrop recover --tables … --yes');
    }
    const { runGuided } = await import('../guided/flow.js');
    await runGuided(c);
  });
}

/** --on-conflict, shared by recover and promote. No default in the parser: unset means "ask" on a terminal, fail otherwise. */
export function onConflictOption(): Option {
  return new Option('--on-conflict <choice>', 'merge: recovered rows whose key a different live row holds (written since the incident): fail (default; nothing live changes, exit 1), keep-live (live rows win), rekey-live (live rows get new keys)').choices([...ON_CONFLICT_CHOICES]);
}
