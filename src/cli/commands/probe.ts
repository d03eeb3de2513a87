// `undrop probe`: options and help; what it does is imported when it runs (actions/probe.ts).
import type { Command } from 'commander';
import type { Context } from '../context.js';
import type { ProbeFlags } from '../actions/probe.js';
import type { RegisterCommand } from './register.js';

export const registerProbe: RegisterCommand = (program: Command, ctx: () => Context) => {
  program
    .command('probe')
    .description('Probe every recovery source (read-only) and rank them: usable or not and why, recovery point, loss window.')
    .option('--strict', 'exit 3 when any source is degraded or unusable (for cron and monitoring)')
    .option('--deep', 'read whole dumps, extract and verify tar backups, run pgbackrest verify and barman verify-backup (slower)')
    .option('--tables <list>', 'tables to look for (comma-separated, schema-qualified or not)')
    .option('--incident-time <time>', 'when the incident happened (ISO 8601): loss windows and time left are computed against it')
    .option('--target <spec>', 'an exact target instead: xid:N, lsn:X/Y, time:ISO-8601 with zone, name:RESTORE_POINT')
    .option('--target-xid <xid>', 'same as --target xid:N')
    .option('--target-lsn <lsn>', 'same as --target lsn:X/Y')
    .option('--target-time <time>', 'same as --target time:T (a zone is required)')
    .option('--target-name <name>', 'same as --target name:RESTORE_POINT')
    .option('--target-timeline <tli>', 'timeline to follow (number, latest, current)')
    .option('--source <name...>', 'probe only these sources')
    .action(async (flags: ProbeFlags) => {
      const c = ctx();
      const { runProbe } = await import('../actions/probe.js');
      await runProbe(c, flags);
    });
};
