// `undrop locate`: find destructive transactions in WAL.
import { InvalidArgumentError, Option } from 'commander';
import type { Inventory } from '../../inventory/schema.js';
import { loadInventory } from '../../inventory/load.js';
import { isUndropError } from '../../errors.js';
import { isLsn } from '../../postgres/wal/lsn.js';
import { parseTargetTime } from '../../sources/target.js';
import { locate, locateJson } from '../../recovery/locate/index.js';
import type { Context } from '../context.js';
import { note, printJson } from '../output.js';
import { printLocate } from '../render/locate.js';
import type { RegisterCommand } from './register.js';

interface LocateFlags {
  since?: string;
  until?: string;
  tables?: string;
  database?: string;
  ignore: string[];
  threshold?: number;
  walDir?: string;
  source?: string;
  catalog?: 'auto' | 'none' | 'production';
}

function positiveInt(v: string): number {
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];
}

export const registerLocate: RegisterCommand = (program, ctx) => {
  program
    .command('locate')
    .description('find destructive transactions (DROP, TRUNCATE, DROP DATABASE, DELETE/UPDATE without WHERE) in WAL and the exact recovery target before each')
    .option('--since <time|lsn>', 'scan from this time (ISO 8601) or LSN (default: the newest base backup\'s start, or the last 24 h)')
    .option('--until <time>', 'ignore commits after this time')
    .option('--tables <list>', 'only events that touched these tables (comma-separated, schema-qualified or not)')
    .option('--database <name>', 'only events in this database (name or OID)')
    .option('--ignore <pattern>', 'set aside events on these tables as routine (glob, e.g. pgbench_history or public.tmp_*); they are still listed as ignored', collect, [])
    .option('--threshold <n>', 'DELETE/UPDATE rows of one transaction on one table that count as a mass delete', positiveInt, 1000)
    .option('--wal-dir <dir>', 'read WAL from this folder (a WAL archive, a pg_wal folder or a data directory) instead of the inventory')
    .option('--source <name>', 'inventory source to read WAL from (default: the first pitr / pgbackrest / barman source)')
    .addOption(new Option('--catalog <mode>', 'where table names come from: auto (delayed replica, base backup copy, production), production, none').choices(['auto', 'production', 'none']).default('auto'))
    .action(async (flags: LocateFlags) => {
      await runLocate(ctx(), flags);
    });
};

/** --since/--until: an LSN as is; a time needs a zone (exit 2 otherwise), kept to the microsecond. */
function rangeBound(value: string | undefined, flag: string): string | undefined {
  if (value === undefined || isLsn(value)) return value;
  return parseTargetTime(value, flag);
}

async function runLocate(c: Context, flags: LocateFlags): Promise<void> {
  const since = rangeBound(flags.since, '--since');
  const until = rangeBound(flags.until, '--until');
  let inventory: Inventory | undefined;
  try {
    inventory = await loadInventory(c.configFlag);
  } catch (e) {
    // Without an inventory, --wal-dir is enough (no names from production, no base backup).
    if (!(flags.walDir && isUndropError(e) && e.code === 'CONFIG_MISSING')) throw e;
  }
  const result = await locate(inventory, {
    since,
    until,
    tables: flags.tables,
    database: flags.database,
    ignore: flags.ignore,
    threshold: flags.threshold,
    walDir: flags.walDir,
    source: flags.source,
    catalog: flags.catalog,
    workDir: c.workDir,
    onProgress: (m) => note(`… ${m}`),
  });
  if (c.json) printJson(locateJson(result));
  else printLocate(result);
}
