import type { Command } from 'commander';
import { Option } from 'commander';
import { usageError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import { defaultWorkDir } from '../../postgres/instance.js';
import { parseTableList } from '../../postgres/identifiers.js';
import type { RecoverMode } from '../../recovery/incident-log.js';
import { ON_CONFLICT_CHOICES, type OnConflict } from '../../recovery/merge-conflicts.js';
import { recoverIncident } from '../../recovery/recover-checklist.js';
import { type TargetFlags, targetFromFlags } from '../../sources/target.js';
import { SELECTIVE_LEVELS, type SelectiveLevel } from '../../sources/types.js';
import { type Context, lockRun } from '../context.js';
import { timeoutFlag } from '../timeouts.js';
import { jobsFlag } from '../jobs.js';
import { printJson, say } from '../output.js';
import { humanSummary } from '../render/recover.js';
import { stepUi } from '../steps.js';
import { suggest } from '../suggest.js';
import { runGuided } from '../guided/flow.js';

export interface RecoverFlags extends TargetFlags {
  tables?: string;
  source: string;
  set?: string;
  mode: RecoverMode;
  schema?: string;
  keep?: boolean;
  database?: string;
  lockTimeout: string;
  statementTimeout?: string;
  recreateForeignKeys?: boolean;
  allowDependents?: boolean;
  onConflict?: OnConflict;
  processMax?: string;
  jobs?: string;
  selective?: SelectiveLevel;
}

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
    .addOption(new Option('--selective <level>', 'base backups: what to leave out (sparse) when certainly safe: relations (default; PITR: the other tables of the lost tables\' database too), database (the other databases; default with --keep or a tar.gz backup), off (restore everything)').choices([...SELECTIVE_LEVELS]))
    .option('--lock-timeout <time>', 'how long promote waits for a lock on a live table (5000 = ms, or 5s, 500ms)', '5000')
    .option('--statement-timeout <time>', 'promote: the longest any one statement may run while it holds the live tables\' locks (default: none; 30s, 2min)')
    .option('--recreate-foreign-keys', 'with --mode replace: re-create foreign keys from other live tables to the replaced ones')
    .option('--allow-dependents', 'with --mode replace: replace even when views, rules, policies, publications, partitions or triggers point at a live table (they keep pointing at the renamed one)')
    .addOption(onConflictOption())
    .action(async (flags: RecoverFlags) => {
      await runRecover(ctx(), flags);
    });
}

/** `undrop recover` and the guided flow (`undrop` on a terminal): one code path; every prompt has its flag. */
export async function runRecover(c: Context, flags: RecoverFlags): Promise<void> {
  if (!flags.tables && !c.interactive) throw usageError('TABLES_REQUIRED', 'recover needs --tables when it cannot ask (--no-input or no terminal).', 'Name the lost tables: --tables shipments,shipment_events (`undrop locate` lists what was dropped).');
  const tables = flags.tables ? parseTableList(flags.tables) : [];
  const target = targetFromFlags(flags);
  const lockTimeoutMs = timeoutFlag('--lock-timeout', flags.lockTimeout);
  const statementTimeoutMs = flags.statementTimeout === undefined ? undefined : timeoutFlag('--statement-timeout', flags.statementTimeout);
  if (flags.onConflict && flags.mode !== 'merge') throw usageError('ON_CONFLICT_NEEDS_MERGE', `--on-conflict ${flags.onConflict} applies only to --mode merge (this run is --mode ${flags.mode}).`, 'Add --mode merge, or leave --on-conflict out.');
  const processMax = flags.processMax === undefined ? undefined : Number(flags.processMax);
  if (processMax !== undefined && !(Number.isInteger(processMax) && processMax >= 1 && processMax <= 999)) {
    throw usageError('PROCESS_MAX_INVALID', `--process-max ${flags.processMax} is not a whole number from 1 to 999.`, 'For example --process-max 4 (pgBackRest restore processes), or leave it out for one per core.');
  }
  const jobs = jobsFlag(flags.jobs);
  const ui = stepUi(c);
  if (!c.yes && !c.interactive) {
    // Fail before anything happens, not halfway.
    throw usageError('CONFIRMATION_NEEDED', 'recover writes to production and needs a confirmation, but undrop cannot ask (--no-input or no terminal).', 'Add --yes to confirm from a script.');
  }
  const inv = await loadInventory(c.configFlag);
  const workDir = c.workDir ?? inv.workDir ?? defaultWorkDir();
  const release = lockRun(workDir);
  const doc = await recoverIncident(
    {
      inventory: inv,
      tables,
      database: flags.database,
      source: flags.source,
      target,
      set: flags.set,
      mode: flags.mode,
      schema: flags.schema,
      keep: !!flags.keep,
      processMax,
      jobs,
      selective: flags.selective,
      workDir,
      lockTimeoutMs,
      statementTimeoutMs,
      recreateForeignKeys: !!flags.recreateForeignKeys,
      allowDependents: !!flags.allowDependents,
      onConflict: flags.onConflict,
    },
    ui,
  ).finally(release);
  if (c.json) printJson(doc);
  else for (const l of humanSummary(doc)) say(l);
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
    await runGuided(c);
  });
}

/** --on-conflict, shared by recover and promote. No default in the parser: unset means "ask" on a terminal, fail otherwise. */
export function onConflictOption(): Option {
  return new Option('--on-conflict <choice>', 'merge: recovered rows whose key a different live row holds (written since the incident): fail (default; nothing live changes, exit 1), keep-live (live rows win), rekey-live (live rows get new keys)').choices([...ON_CONFLICT_CHOICES]);
}
