// `undrop verify` (registered in commands/verify.ts): restore-test every source.
import { EXIT, usageError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import { parseTableList } from '../../postgres/identifiers.js';
import { defaultWorkDir } from '../../postgres/instance.js';
import { restoreTest } from '../../recovery/restore-test.js';
import { nagiosLine } from '../../verify/nagios.js';
import { writePromFile } from '../../verify/prom.js';
import type { VerifyDocument } from '../../contract.js';
import type { Context } from '../context.js';
import { lockRun } from '../lock-run.js';
import { printJson } from '../output.js';
import { printVerify } from '../render/verify.js';
import { stepUi } from '../steps.js';

export interface VerifyFlags {
  source?: string;
  tables?: string;
  database?: string;
  strict?: boolean;
  promFile?: string;
  format?: string;
  maxParallel?: string;
}

/** Restore test of the sources; exit 3 when one is not healthy. */
export async function runVerify(c: Context, flags: VerifyFlags): Promise<void> {
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
}
