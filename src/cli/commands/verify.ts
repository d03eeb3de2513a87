import type { Command } from 'commander';
import { EXIT } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import { parseTableList } from '../../postgres/identifiers.js';
import { defaultWorkDir } from '../../postgres/instance.js';
import { restoreTest } from '../../recovery/restore-test.js';
import type { VerifyDocument } from '../../contract.js';
import { type Context, lockRun } from '../context.js';
import { printJson } from '../output.js';
import { printVerify } from '../render/verify.js';
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
      const workDir = c.workDir ?? inv.workDir ?? defaultWorkDir();
      const release = lockRun(workDir);
      const results = await ui.step('Restore test of every source', (progress) =>
        restoreTest({
          inventory: inv,
          source: flags.source,
          tables: flags.tables ? parseTableList(flags.tables) : [],
          database: flags.database,
          workDir,
          onProgress: (s, m) => progress(`${s}: ${m}`),
        }),
      ).finally(release);
      const healthy = results.every((r) => r.ok);
      if (c.json) printJson({ healthy, sources: results } satisfies VerifyDocument);
      else printVerify(results, healthy);
      process.exitCode = healthy ? EXIT.ok : EXIT.unhealthy;
    });
}
