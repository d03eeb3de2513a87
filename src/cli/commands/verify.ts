import type { Command } from 'commander';
import { EXIT } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import { parseTableList } from '../../postgres/identifiers.js';
import { defaultWorkDir } from '../../postgres/instance.js';
import { restoreTest } from '../../recovery/restore-test.js';
import { formatDuration } from '../../util/time.js';
import type { Context } from '../context.js';
import { printJson, say } from '../output.js';
import { stepUi } from '../steps.js';

export function registerVerify(program: Command, ctx: () => Context): void {
  program
    .command('verify')
    .description('restore test: materialize each source into a temporary instance, check its tables, tear it down (exit 3 when one fails)')
    .option('--source <name>', 'test only this source')
    .option('--tables <list>', 'tables that must be there (default: list and count every table)')
    .option('--database <name>', 'database to check (default: production DSN\'s)')
    .action(async (flags: { source?: string; tables?: string; database?: string }) => {
      const c = ctx();
      const inv = await loadInventory(c.configFlag);
      const ui = stepUi(c);
      const results = await ui.step('Restore test of every source', (progress) =>
        restoreTest({
          inventory: inv,
          source: flags.source,
          tables: flags.tables ? parseTableList(flags.tables) : [],
          database: flags.database,
          workDir: c.workDir ?? inv.workDir ?? defaultWorkDir(),
          onProgress: (s, m) => progress(`${s}: ${m}`),
        }),
      );
      const healthy = results.every((r) => r.ok);
      if (c.json) printJson({ healthy, sources: results });
      else {
        for (const r of results) {
          const rows = r.tables.reduce((n, t) => n + t.rows, 0);
          say(`${r.ok ? 'ok  ' : 'FAIL'}  ${r.name.padEnd(18)} ${r.kind.padEnd(16)} ${r.checked.padEnd(8)} ${formatDuration(r.durationMs).padStart(9)}  ${!r.error ? `${r.probeStatus === 'usable' ? '' : `${r.probeStatus.toUpperCase()} — `}${r.tables.length} tables, ${rows} rows, recovery point ${r.recoveryPoint?.time ?? 'unknown'}` : `${r.error?.code}: ${r.error?.message}`}`);
          if (!r.ok && r.error?.hint) say(`      HINT: ${r.error.hint}`);
          for (const f of r.problems.slice(0, 5)) say(`      ${f.level}: ${f.message}`);
        }
        say(healthy ? 'Every source restored.' : 'At least one source is unhealthy (it failed to restore, or the probe found a problem): fix it before you need it.');
      }
      process.exitCode = healthy ? EXIT.ok : EXIT.unhealthy;
    });
}
