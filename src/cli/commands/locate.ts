// `undrop locate`: find destructive transactions in WAL.
import { InvalidArgumentError, Option } from 'commander';
import type { Inventory } from '../../inventory/schema.js';
import { loadInventory } from '../../inventory/load.js';
import { isUndropError } from '../../errors.js';
import { type LocateResult, type LocatedEvent, locate, locateJson } from '../../recovery/locate/index.js';
import type { Context } from '../context.js';
import { note, printJson, say } from '../output.js';
import type { RegisterCommand } from './index.js';

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
    .option('--source <name>', 'inventory source to read WAL from (default: the first pitr / pgbackrest source)')
    .addOption(new Option('--catalog <mode>', 'where table names come from: auto (delayed replica, base backup copy, production), production, none').choices(['auto', 'production', 'none']).default('auto'))
    .action(async (flags: LocateFlags) => {
      await runLocate(ctx(), flags);
    });
};

async function runLocate(c: Context, flags: LocateFlags): Promise<void> {
  let inventory: Inventory | undefined;
  try {
    inventory = await loadInventory(c.configFlag);
  } catch (e) {
    // Without an inventory, --wal-dir is enough (no names from production, no base backup).
    if (!(flags.walDir && isUndropError(e) && e.code === 'CONFIG_MISSING')) throw e;
  }
  const result = await locate(inventory, {
    since: flags.since,
    until: flags.until,
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
  printHuman(result);
}

function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/(\.\d{0,3})\d*Z$/, '$1 UTC').replace(/Z$/, ' UTC');
}

function relList(e: LocatedEvent): string {
  const names = e.relations.map((r) => r.name ?? `base/${e.database.oid}/${r.relfilenode}`);
  return names.length > 4 ? `${names.slice(0, 4).join(', ')} (+${names.length - 4} more)` : names.join(', ');
}

function kindLabel(e: LocatedEvent): string {
  if (e.kind === 'delete') return e.operation === 'update' ? 'mass UPDATE' : 'mass DELETE';
  if (e.kind === 'drop' && e.recreated.length) return 'DROP+CREATE';
  return e.kind === 'drop-database' ? 'DROP DATABASE' : e.kind.toUpperCase();
}

function rowsText(e: LocatedEvent): string {
  if (e.rowsLost === null) return 'rows unknown';
  const n = e.rowsLost.toLocaleString('en-US');
  return e.rowsKind === 'estimate' ? `~${n} rows` : `${n} rows`;
}

export function printHuman(r: LocateResult): void {
  const w = r.wal;
  say(`Scanned ${w.segments} WAL segment(s) ${w.firstSegment ?? ''}${w.lastSegment && w.lastSegment !== w.firstSegment ? ` … ${w.lastSegment}` : ''} from ${w.source}`);
  say(`  ${w.records.toLocaleString('en-US')} records, ${w.commits.toLocaleString('en-US')} commits${w.firstCommitTime ? `, ${shortTime(w.firstCommitTime)} … ${shortTime(w.lastCommitTime ?? w.firstCommitTime)}` : ''} (pg_waldump ${w.pgWaldumpMajor}, ${(r.durationMs / 1000).toFixed(1)} s)`);
  say(`  names from: ${r.catalogs.length ? r.catalogs.join('; ') : 'no catalog (raw base/<db>/<relfilenode>)'}`);
  for (const warn of r.warnings) {
    say(`  warning [${warn.code}]: ${warn.message}`);
    if (warn.hint) say(`    ${warn.hint}`);
  }
  say('');
  if (r.events.length === 0) {
    say('No destructive transaction found in that range.');
  } else {
    say(`${r.events.length} destructive transaction(s), best candidate first (named ones newest first, then those no catalog could name):`);
    say('');
    const shown = new Set<string>();
    for (const e of r.events) {
      say(`  ${shortTime(e.commitTime)}  ${kindLabel(e)}  in ${e.database.name ?? `database OID ${e.database.oid}`}: ${relList(e) || '(whole database)'}`);
      say(`      ${rowsText(e)}; xid ${e.xid}; commit ${e.commitLsn}; first record ${e.firstLsn}`);
      if (e.recreated.length) say(`      recreated in the same transaction: ${e.recreated.map((x) => x.name).join(', ')} — their keys restarted, so rows written since can reuse lost rows' keys: a merge will meet collisions (recover --on-conflict)`);
      if (e.unnamedReason) say(`      unnamed: ${e.unnamedReason}`);
      say(`      target: ${e.kind === 'drop-database' ? `--target lsn:${e.firstLsn}` : `--target xid:${e.xid}`} (exclusive)${e.catalog ? `; names from ${e.catalog}` : ''}`);
      for (const n of e.notes) {
        say(`      note: ${shown.has(n) ? '(as above)' : n}`);
        shown.add(n);
      }
    }
  }
  if (r.ignored.length) {
    say('');
    say(`${r.ignored.length} event(s) set aside by --ignore:`);
    for (const e of r.ignored) say(`  ${shortTime(e.commitTime)}  ${kindLabel(e)}  ${relList(e)}  xid ${e.xid} (matched ${e.ignoredBy})`);
  }
  if (r.undrop.length) {
    say('');
    say(`${r.undrop.length} drop(s) of undrop's own side schemas (housekeeping, never incidents):`);
    for (const e of r.undrop) say(`  ${shortTime(e.commitTime)}  ${kindLabel(e)}  ${relList(e)}  xid ${e.xid}`);
  }
  const newest = r.events[0];
  if (newest) {
    const tables = newest.relations.map((x) => x.name).filter(Boolean);
    say('');
    say(`Next: undrop recover${tables.length ? ` --tables ${tables.join(',')}` : ''} --target ${newest.kind === 'drop-database' ? `lsn:${newest.firstLsn}` : `xid:${newest.xid}`}`);
  }
}
