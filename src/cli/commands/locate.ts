// `undrop locate`: options and help; what it does is imported when it runs (actions/locate.ts).
import { InvalidArgumentError, Option } from 'commander';
import type { LocateFlags } from '../actions/locate.js';
import type { RegisterCommand } from './register.js';

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
      const c = ctx();
      const { runLocate } = await import('../actions/locate.js');
      await runLocate(c, flags);
    });
};

