import type { Command } from 'commander';
import { EXIT, usageError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import { parseTableList } from '../../postgres/identifiers.js';
import { defaultWorkDir } from '../../postgres/instance.js';
import { restoreTest } from '../../recovery/restore-test.js';
import { nagiosLine } from '../../verify/nagios.js';
import { writePromFile } from '../../verify/prom.js';
import type { VerifyDocument } from '../../contract.js';
import { type Context, lockRun } from '../context.js';
import { printJson } from '../output.js';
import { printVerify } from '../render/verify.js';
import { stepUi } from '../steps.js';

interface VerifyFlags {
  source?: string;
  tables?: string;
  database?: string;
  strict?: boolean;
  promFile?: string;
  format?: string;
  maxParallel?: string;
}

export function registerVerify(program: Command, ctx: () => Context): void {
  program
    .command('verify')
    .description('restore test: materialize each source into a temporary instance, run the validation suite, tear it down (exit 3 when one fails)')
    .option('--source <name>', 'test only this source')
    .option('--tables <list>', 'tables that must be there (default: every table of production, or the inventory\'s verify.tables)')
    .option('--database <name>', 'database to check (default: production DSN\'s)')
    .option('--strict', 'exit 3 when any source is not healthy (always so for verify; accepted for symmetry with probe --strict)')
    .option('--prom-file <path>', 'also write Prometheus textfile-collector metrics there (atomically)')
    .option('--format <format>', 'output: text (default) or nagios (one line, Nagios exit codes 0/2/3)')
    .option('--max-parallel <n>', 'sources restored at once (default 1)')
    .action(async (flags: VerifyFlags) => {
      const c = ctx();
      const format = flags.format ?? 'text';
      if (format !== 'text' && format !== 'nagios') throw usageError('BAD_FORMAT', `--format ${format}: expected text or nagios.`, 'Use --json for the JSON document.');
      const maxParallel = flags.maxParallel === undefined ? 1 : Number(flags.maxParallel);
      if (!Number.isInteger(maxParallel) || maxParallel < 1) throw usageError('BAD_MAX_PARALLEL', `--max-parallel ${flags.maxParallel}: expected a whole number, 1 or more.`, 'Example: --max-parallel 2.');
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
          maxParallel,
          onProgress: (s, m) => progress(`${s}: ${m}`),
        }),
      ).finally(release);
      const healthy = results.every((r) => r.ok);
      if (flags.promFile) writePromFile(flags.promFile, results);
      if (format === 'nagios') {
        const n = nagiosLine(results);
        process.stdout.write(`${n.line}\n`);
        process.exitCode = n.exitCode;
        return;
      }
      if (c.json) printJson({ healthy, sources: results } satisfies VerifyDocument);
      else printVerify(results, healthy);
      process.exitCode = healthy ? EXIT.ok : EXIT.unhealthy;
    });
}
