// `undrop locate` (registered in commands/locate.ts): find destructive transactions in WAL.
import type { Inventory } from '../../inventory/schema.js';
import { loadInventory } from '../../inventory/load.js';
import { isUndropError } from '../../errors.js';
import { isLsn } from '../../postgres/wal/lsn.js';
import { parseTargetTime } from '../../sources/target.js';
import { locate, locateJson } from '../../recovery/locate/index.js';
import type { Context } from '../context.js';
import { note, printJson } from '../output.js';
import { printLocate } from '../render/locate.js';

export interface LocateFlags {
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

/** --since/--until: an LSN as is; a time needs a zone (exit 2 otherwise), kept to the microsecond. */
function rangeBound(value: string | undefined, flag: string): string | undefined {
  if (value === undefined || isLsn(value)) return value;
  return parseTargetTime(value, flag);
}

export async function runLocate(c: Context, flags: LocateFlags): Promise<void> {
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
