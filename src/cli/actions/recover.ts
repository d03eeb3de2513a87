// `undrop recover`: what the command does, loaded when it runs (commands/recover.ts registers it).
import { usageError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import { defaultWorkDir } from '../../postgres/instance.js';
import { parseTableList } from '../../postgres/identifiers.js';
import type { RecoverMode } from '../../recovery/incident-log.js';
import type { OnConflict } from '../../recovery/merge-conflicts.js';
import type { ToastCompressionChoice } from '../../recovery/toast-compression.js';
import { recoverIncident } from '../../recovery/recover-checklist.js';
import { type TargetFlags, targetFromFlags } from '../../sources/target.js';
import type { SelectiveLevel } from '../../sources/types.js';
import type { Context } from '../context.js';
import { lockRun } from '../lock-run.js';
import { timeoutFlag } from '../timeouts.js';
import { jobsFlag } from '../jobs.js';
import { printJson, say } from '../output.js';
import { humanSummary } from '../render/recover.js';
import { stepUi } from '../steps.js';

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
  toastCompression?: ToastCompressionChoice;
  selective?: SelectiveLevel;
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
      toastCompression: flags.toastCompression,
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
