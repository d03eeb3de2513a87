// `npm run bench`: undrop against the manual procedure a DBA would type, in
// the same run, on the same data. Prints figures and ratios (lower is better
// for undrop); `--json` prints one document. Sizes via environment:
// UNDROP_BENCH_ROWS (copy back, default 1,000,000), UNDROP_BENCH_WAL_MB
// (locate, default 1100), UNDROP_BENCH_PITR_GB (other database for the
// selective-restore bench, default 3), UNDROP_BENCH_RUNS (default 3),
// UNDROP_BENCH_ONLY (copyback|locate|pitr).
import { runAllCleanups } from '../postgres/cleanup.js';
import { formatBytes, formatDuration } from '../util/time.js';
import { benchCopyBack } from './copyback.js';
import { benchLocate } from './locate.js';
import { benchPitrSelective } from './pitr-selective.js';

const json = process.argv.includes('--json');
const log = (l: string) => process.stderr.write(`${l}\n`);
const only = process.env.UNDROP_BENCH_ONLY;
const runs = Number(process.env.UNDROP_BENCH_RUNS ?? 3);

async function main(): Promise<void> {
  const results: Record<string, unknown> = {};
  if (!only || only === 'copyback') {
    log('copy back: undrop vs pg_dump -Fc | pg_restore vs psql \\copy pipe …');
    const r = await benchCopyBack({ rows: Number(process.env.UNDROP_BENCH_ROWS ?? 1_000_000), repeat: runs, onProgress: (m) => log(`  ${m}`) });
    results.copyBack = r;
    log(`  ${r.rows.toLocaleString()} rows (${r.toastRows.toLocaleString()} TOASTed, ${formatBytes(r.tableBytes)})`);
    log(`  undrop ${formatDuration(r.undropMs)} | pg_dump|pg_restore ${formatDuration(r.pgDumpRestoreMs)} | psql \\copy ${formatDuration(r.psqlCopyMs)}`);
    log(`  ratio vs pg_dump|pg_restore ${r.ratioVsPgDump.toFixed(2)} (goal ≤ 0.60), vs psql \\copy ${r.ratioVsPsqlCopy.toFixed(2)}; verified ${r.verified}`);
  }
  if (!only || only === 'locate') {
    log('locate: undrop locate vs bare pg_waldump over the same segments …');
    const r = await benchLocate({ walBytes: Number(process.env.UNDROP_BENCH_WAL_MB ?? 1100) * 1024 * 1024, runs, log: (m) => log(`  ${m}`) });
    results.locate = r;
    log(`  ${formatBytes(r.walBytes)} of WAL, ${r.segments} segments, ${r.records.toLocaleString()} records`);
    log(`  locate ${formatDuration(r.locateMs)} | bare pg_waldump ${formatDuration(r.bareMs)} → ratio ${r.ratio.toFixed(2)} (goal ≤ 1.20); RSS ${r.rssStartMb} → ${r.rssPeakMb} MB`);
  }
  if (!only || only === 'pitr') {
    log('PITR materialize: selective restore (one database) vs full restore …');
    const r = await benchPitrSelective({ otherBytes: Number(process.env.UNDROP_BENCH_PITR_GB ?? 3) * 1024 ** 3, onProgress: (m) => log(`  ${m}`) });
    results.pitrSelective = r;
    log(`  other database ${formatBytes(r.otherDbBytes)}, target database ${formatBytes(r.targetDbBytes)}`);
    for (const f of ['plain', 'tar'] as const) {
      const on = r.runs.find((x) => x.format === f && x.selective);
      const off = r.runs.find((x) => x.format === f && !x.selective);
      if (on && off) log(`  ${f}: selective ${formatDuration(on.ms)} / ${formatBytes(on.dataDirAllocated)} vs full ${formatDuration(off.ms)} / ${formatBytes(off.dataDirAllocated)} → ratio ${(on.ms / off.ms).toFixed(2)}; verified ${on.verified && off.verified}`);
    }
  }
  if (json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

main()
  .catch((e) => {
    log(`bench failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  })
  .finally(() => runAllCleanups());
