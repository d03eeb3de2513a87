// `npm run bench`: undrop against the manual procedure a DBA would type, in
// the same run, on the same data. Prints figures and ratios (lower is better
// for undrop); `--json` prints one document.
//
// Default: the end-to-end bench (e2e/), every source kind, at
// `--scale default` (1.05 M lost rows), `seed` (15 M, the incident that
// started undrop), `wide` (3 M, about a tenth of the cluster), `seed-tenth`
// (15 M, about a tenth of a 23 GB cluster, pgBackRest only) or `smoke`
// (CI: correctness only); it writes
// bench/results/e2e-<scale>.{md,json,svg} (`--out DIR` elsewhere).
// `--runs N` (default 3; smoke 1), `--kinds a,b`, `--process-max-compare`
// (pgBackRest again with --process-max 1), `--skip-control` (no control
// runs: verification's cost is then not measured). The part benches run with UNDROP_BENCH_ONLY
// (copyback|locate|pitr|startup|all) and their sizes via environment:
// UNDROP_BENCH_ROWS (copy back, default 1,000,000), UNDROP_BENCH_WAL_MB
// (locate, default 1100), UNDROP_BENCH_PITR_GB (the large database of the
// selective-restore bench, default 3), UNDROP_BENCH_PITR_CASE (database,
// relations or both: default), UNDROP_BENCH_RUNS (default 3; startup: 10).
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { execa } from 'execa';
import { runAllCleanups } from '../postgres/cleanup.js';
import { defaultWorkDir } from '../postgres/instance.js';
import { benchE2e } from './e2e/index.js';
import type { SourceKind } from './e2e/manual.js';
import { e2eMarkdown, e2eSvg } from './e2e/report.js';
import { scaleOf } from './e2e/scales.js';
import { formatBytes, formatDuration } from '../util/time.js';
import { benchCopyBack } from './copyback.js';
import { benchLocate } from './locate.js';
import { benchPitrSelective, type PitrSelectiveBenchResult } from './pitr-selective.js';
import { pitrSelectiveMarkdown } from './pitr-selective-report.js';
import { benchStartup } from './startup.js';

const { values: args } = parseArgs({
  options: { json: { type: 'boolean' }, scale: { type: 'string', default: 'default' }, runs: { type: 'string' }, out: { type: 'string' }, dir: { type: 'string' }, kinds: { type: 'string' }, 'process-max-compare': { type: 'boolean' }, 'skip-control': { type: 'boolean' } },
});
const json = !!args.json;
const log = (l: string) => process.stderr.write(`${l}\n`);
const only = process.env.UNDROP_BENCH_ONLY ?? 'e2e';
const runs = Number(process.env.UNDROP_BENCH_RUNS ?? 3);

async function main(): Promise<void> {
  const results: Record<string, unknown> = {};
  if (only === 'e2e' || only === 'all') {
    const sc = scaleOf(args.scale!);
    const started = Date.now();
    const r = await benchE2e({
      scale: sc.scale,
      otherRows: sc.otherRows,
      runs: args.runs ? Number(args.runs) : sc.runs,
      dir: args.dir ?? join(defaultWorkDir(), `bench-lab-${sc.name}`),
      // pgBackRest with --process-max 1 beside the default: only when asked (it adds a whole restore per run)
      processMaxCompare: !!args['process-max-compare'],
      // the control (hashing off) beside every undrop run, unless asked not to (it adds a run per run)
      control: !args['skip-control'],
      kinds: args.kinds ? (args.kinds.split(',') as SourceKind[]) : sc.kinds,
      trimArchive: sc.trimArchive,
      log,
    });
    results.e2e = r;
    const out = resolve(args.out ?? 'bench/results');
    await mkdir(out, { recursive: true });
    await writeFile(join(out, `e2e-${sc.name}.json`), `${JSON.stringify(r, null, 2)}\n`);
    await writeFile(join(out, `e2e-${sc.name}.md`), e2eMarkdown(r));
    await writeFile(join(out, `e2e-${sc.name}.svg`), `${e2eSvg(r)}\n`);
    log(`end-to-end bench done in ${formatDuration(Date.now() - started)}: ${join(out, `e2e-${sc.name}.md`)}`);
  }
  if (only === 'all' || only === 'copyback') {
    log('copy back: undrop vs pg_dump -Fc | pg_restore vs psql \\copy pipe …');
    const r = await benchCopyBack({ rows: Number(process.env.UNDROP_BENCH_ROWS ?? 1_000_000), repeat: runs, onProgress: (m) => log(`  ${m}`) });
    results.copyBack = r;
    log(`  ${r.rows.toLocaleString()} rows (${r.toastRows.toLocaleString()} TOASTed, ${formatBytes(r.tableBytes)})`);
    log(`  undrop ${formatDuration(r.undropMs)} | pg_dump|pg_restore ${formatDuration(r.pgDumpRestoreMs)} | psql \\copy ${formatDuration(r.psqlCopyMs)}`);
    log(`  ratio vs pg_dump|pg_restore ${r.ratioVsPgDump.toFixed(2)} (goal ≤ 0.60), vs psql \\copy ${r.ratioVsPsqlCopy.toFixed(2)}; verified ${r.verified}`);
  }
  if (only === 'all' || only === 'locate') {
    log('locate: undrop locate vs bare pg_waldump over the same segments …');
    const r = await benchLocate({ walBytes: Number(process.env.UNDROP_BENCH_WAL_MB ?? 1100) * 1024 * 1024, runs, log: (m) => log(`  ${m}`) });
    results.locate = r;
    log(`  ${formatBytes(r.walBytes)} of WAL, ${r.segments} segments, ${r.records.toLocaleString()} records`);
    log(`  locate ${formatDuration(r.locateMs)} | bare pg_waldump ${formatDuration(r.bareMs)} → ratio ${r.ratio.toFixed(2)} (goal ≤ 1.20); RSS ${r.rssStartMb} → ${r.rssPeakMb} MB`);
  }
  if (only === 'all' || only === 'pitr') {
    const gb = Number(process.env.UNDROP_BENCH_PITR_GB ?? 3) * 1024 ** 3;
    // UNDROP_BENCH_PITR_CASE: database (a large other database), relations (one large database, the lost tables ~5 %), both (default).
    const cases = (process.env.UNDROP_BENCH_PITR_CASE ?? 'both') === 'both' ? ['database', 'relations'] : [process.env.UNDROP_BENCH_PITR_CASE!];
    const out: Record<string, PitrSelectiveBenchResult> = {};
    const at = new Date().toISOString();
    const loadAtStart = loadavg();
    for (const c of cases) {
      log(`PITR materialize, ${c === 'relations' ? 'one database with the lost tables ~5 %' : 'a large other database'}: --selective relations / database / off …`);
      const r = await benchPitrSelective({ ...(c === 'relations' ? { sameDbBytes: gb } : { otherBytes: gb }), onProgress: (m) => log(`  ${m}`) });
      out[c] = r;
      log(`  other database ${formatBytes(r.otherDbBytes)}, target database ${formatBytes(r.targetDbBytes)} (lost tables ${formatBytes(r.lostBytes)})`);
      for (const f of ['plain', 'tar'] as const) {
        const full = r.runs.find((x) => x.format === f && x.level === 'off');
        for (const x of r.runs.filter((y) => y.format === f)) {
          log(`  ${f} --selective ${x.level}: ${formatDuration(x.ms)}, data directory ${formatBytes(x.dataDirAllocated)} allocated${x.deviceWritten !== undefined ? `, device wrote ${formatBytes(x.deviceWritten)}` : ''}${full ? ` → ${(x.ms / full.ms).toFixed(2)}× full` : ''}; verified ${x.verified}`);
        }
      }
    }
    results.pitrSelective = out;
    const dir = resolve(args.out ?? 'bench/results');
    await mkdir(dir, { recursive: true });
    const commit = (await execa('git', ['rev-parse', '--short', 'HEAD'], { reject: false })).stdout || undefined;
    await writeFile(join(dir, 'pitr-selective.json'), `${JSON.stringify(out, null, 2)}\n`);
    await writeFile(join(dir, 'pitr-selective.md'), pitrSelectiveMarkdown(out, { commit, at, loadAtStart }));
    log(`  results: ${join(dir, 'pitr-selective.md')}`);
  }
  if (only === 'all' || only === 'startup') {
    log(`CLI start: median of ${process.env.UNDROP_BENCH_RUNS ?? 10} spawns (no server; load average ${loadavg().map((x) => x.toFixed(1)).join(', ')}) …`);
    const r = await benchStartup({ runs: Number(process.env.UNDROP_BENCH_RUNS ?? 10) });
    results.startup = r;
    for (const c of r) log(`  ${c.name}: wall ${formatDuration(c.wallMs)}, CPU ${formatDuration(c.cpuMs)}`);
    log(`  load average at the end: ${loadavg().map((x) => x.toFixed(1)).join(', ')}`);
  }
  if (json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

main()
  .catch((e) => {
    log(`bench failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  })
  .finally(() => runAllCleanups());
