// `undrop promote --schema S --mode merge|replace` (registered in
// commands/promote.ts): promote a verified side schema without restoring
// again (its checksums are checked first).
import { usageError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import { resolveConnParams } from '../../postgres/conninfo.js';
import { parseTableList } from '../../postgres/identifiers.js';
import { defaultWorkDir } from '../../postgres/instance.js';
import type { OnConflict } from '../../recovery/merge-conflicts.js';
import { promoteSideSchema } from '../../recovery/promote-side-schema.js';
import type { Context } from '../context.js';
import { lockRun } from '../lock-run.js';
import { timeoutFlag } from '../timeouts.js';
import { printJson } from '../output.js';
import { printPromote } from '../render/promote.js';
import { stepUi } from '../steps.js';

export interface PromoteFlags {
  schema: string;
  mode: 'merge' | 'replace';
  tables?: string;
  database?: string;
  onConflict?: OnConflict;
  lockTimeout: string;
  statementTimeout?: string;
  recreateForeignKeys?: boolean;
  allowDependents?: boolean;
}

export async function runPromote(c: Context, flags: PromoteFlags): Promise<void> {
  const lockTimeoutMs = timeoutFlag('--lock-timeout', flags.lockTimeout);
  const statementTimeoutMs = flags.statementTimeout === undefined ? undefined : timeoutFlag('--statement-timeout', flags.statementTimeout);
  if (flags.onConflict && flags.mode !== 'merge') throw usageError('ON_CONFLICT_NEEDS_MERGE', `--on-conflict ${flags.onConflict} applies only to --mode merge (this run is --mode ${flags.mode}).`, 'Add --mode merge, or leave --on-conflict out.');
  if (!c.yes && !c.interactive) {
    throw usageError('CONFIRMATION_NEEDED', 'promote writes to production and needs a confirmation, but undrop cannot ask (--no-input or no terminal).', 'Add --yes to confirm from a script.');
  }
  const tables = flags.tables ? parseTableList(flags.tables) : undefined;
  const inv = await loadInventory(c.configFlag);
  const prod = resolveConnParams(inv.production.dsn);
  const database = flags.database ?? prod.database;
  if (!database) throw usageError('DATABASE_UNKNOWN', 'Which database is the side schema in? Production\'s DSN names none.', 'Add dbname to production.dsn in undrop.yaml or pass --database.');
  const workDir = c.workDir ?? inv.workDir ?? defaultWorkDir();
  const release = lockRun(workDir);
  const doc = await promoteSideSchema(
    { production: { ...prod, database }, schema: flags.schema, mode: flags.mode, tables, onConflict: flags.onConflict, lockTimeoutMs, statementTimeoutMs, recreateForeignKeys: !!flags.recreateForeignKeys, allowDependents: !!flags.allowDependents, workDir },
    stepUi(c),
  ).finally(release);
  if (c.json) printJson(doc);
  else printPromote(doc);
}
