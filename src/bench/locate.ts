// Bench: locate's WAL scan against a bare pg_waldump over the same segments.
// Generates ≥ 1 GB of WAL in a throwaway instance that archives into a temp
// folder (or reuses --wal-dir), then times:
//   bare      pg_waldump over every segment, output discarded (the baseline)
//   locate    the full locate scan (pg_waldump + parsing + event detection)
// N times each, interleaved, and samples the peak RSS of this process during
// the locate scans.
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { findBinaries } from '../postgres/binaries.js';
import { TempInstance, defaultWorkDir } from '../postgres/instance.js';
import { chownForServer } from '../postgres/os-user.js';
import { listSegments } from '../postgres/wal/segments.js';
import { waldumpArgs } from '../postgres/wal/waldump.js';
import { scanWal } from '../recovery/locate/scan.js';

export interface LocateBenchOptions {
  /** Bytes of WAL to generate (default 1.1 GB). */
  walBytes?: number;
  /** Use this folder of segments instead of generating. */
  walDir?: string;
  workDir?: string;
  /** Timed runs of each contender (best is kept). */
  runs?: number;
  log?: (line: string) => void;
}

export interface LocateBenchResult {
  walBytes: number;
  segments: number;
  records: number;
  /** Best of N: bare `pg_waldump … > /dev/null` over the same segments. */
  bareMs: number;
  /** Best of N: the full locate scan (pg_waldump + parsing + event detection). */
  locateMs: number;
  /** locate / bare pg_waldump, best of N each. */
  ratio: number;
  /** Median of the per-run ratios (each run times both back to back). */
  ratioMedian: number;
  bareRunsMs: number[];
  locateRunsMs: number[];
  /** pg_waldump's own CPU time in the bare run (best). */
  bareCpuMs: number;
  /** This process's CPU time during a locate scan (best): parsing and detection, not pg_waldump's. */
  locateCpuMs: number;
  rssStartMb: number;
  rssPeakMb: number;
  maxOpenTransactions: number;
  eventsFound: number;
}

async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for (const f of await readdir(dir)) n += (await stat(join(dir, f)).catch(() => ({ size: 0 }))).size;
  return n;
}

/** Make ≥ walBytes of archived WAL: bulk inserts, updates and deletes, plus a few incidents. */
export async function generateWal(workDir: string, walBytes: number, log: (l: string) => void): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const bin = await findBinaries();
  await mkdir(workDir, { recursive: true });
  const dir = await mkdtemp(join(workDir, 'bench-wal-'));
  await chownForServer(dir, false);
  const inst = await TempInstance.create({
    bin,
    workDir,
    name: 'bench-locate',
    settings: { wal_level: 'replica', archive_mode: 'on', archive_command: `cp %p ${dir}/%f.tmp && mv ${dir}/%f.tmp ${dir}/%f`, max_wal_size: '4GB', checkpoint_timeout: '30min', synchronous_commit: 'off', fsync: 'off' },
  });
  try {
    await inst.start();
    const c = await inst.connect();
    try {
      await c.query('create table bench (id bigint, payload text, n int)');
      await c.query('create table victim (id int primary key, v text)');
      await c.query("insert into victim select g, 'v' from generate_series(1, 20000) g");
      let round = 0;
      while ((await dirBytes(dir)) < walBytes) {
        round++;
        // Many small transactions (realistic commit density) and some big ones.
        for (let i = 0; i < 200; i++) await c.query(`insert into bench select g, md5(g::text), ${i} from generate_series(1, 200) g`);
        await c.query("insert into bench select g, repeat(md5(g::text), 4), 0 from generate_series(1, 300000) g");
        await c.query('update bench set n = n + 1 where id % 7 = 0');
        await c.query('delete from bench where id % 3 = 0');
        await c.query('select pg_switch_wal()');
        log(`  round ${round}: ${((await dirBytes(dir)) / 1e9).toFixed(2)} GB archived`);
      }
      await c.query('delete from victim');
      await c.query('drop table bench');
      await c.query('select pg_switch_wal()');
    } finally {
      await c.end();
    }
    await new Promise((r) => setTimeout(r, 2000));
  } finally {
    await inst.destroy();
  }
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Bare `pg_waldump … > /dev/null` over the segments: wall ms and pg_waldump's own CPU ms (the shell's `times`). */
async function timeBare(dir: string, rmgrs?: string[]): Promise<{ wallMs: number; cpuMs: number }> {
  const bin = await findBinaries();
  const segs = (await listSegments(dir)).filter((s) => !s.name.endsWith('.partial'));
  const args = waldumpArgs({ dir, rmgrs, startSegment: segs[0]!.name, endSegment: segs[segs.length - 1]!.name });
  const started = process.hrtime.bigint();
  // Output discarded by the shell, as `pg_waldump … > /dev/null` would.
  const r = await execa('sh', ['-c', `"$0" "$@" > /dev/null 2>&1; times`, bin.path('pg_waldump'), ...args], { reject: false });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  return { wallMs, cpuMs: childCpuMs(String(r.stdout ?? '')) };
}

/** The children line of sh's `times` ("0m4.820s 0m0.630s") → user + sys ms. */
export function childCpuMs(times: string): number {
  const line = times.trim().split('\n').pop() ?? '';
  let ms = 0;
  for (const m of line.matchAll(/(\d+)m([\d.]+)s/g)) ms += (Number(m[1]) * 60 + Number(m[2])) * 1000;
  return Math.round(ms);
}

const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

export async function benchLocate(o: LocateBenchOptions = {}): Promise<LocateBenchResult> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const workDir = o.workDir ?? defaultWorkDir();
  let dir = o.walDir;
  let cleanup = async () => {};
  if (!dir) {
    log(`locate bench: generating ${((o.walBytes ?? 1.1e9) / 1e9).toFixed(1)} GB of WAL…`);
    const g = await generateWal(workDir, o.walBytes ?? 1.1e9, log);
    dir = g.dir;
    cleanup = g.cleanup;
  }
  try {
    const segs = (await listSegments(dir)).filter((s) => !s.name.endsWith('.partial'));
    const walBytes = segs.reduce((a, s) => a + s.size, 0);
    // Warm the page cache once so every run reads from memory.
    await timeBare(dir, ['XLOG']);
    // N runs of each, interleaved (alternating which goes first) so a busy machine hurts both alike; best of N compared.
    const runs = Math.max(1, o.runs ?? 3);
    const bareRuns: number[] = [];
    const bareCpu: number[] = [];
    const locateRuns: number[] = [];
    const locateCpu: number[] = [];
    const rssStart = process.memoryUsage().rss;
    let rssPeak = rssStart;
    let r: Awaited<ReturnType<typeof scanWal>> | undefined;
    const timeLocate = async () => {
      const timer = setInterval(() => {
        rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      }, 50);
      const cpu = process.cpuUsage();
      const started = process.hrtime.bigint();
      try {
        r = await scanWal({ dir: dir!, threshold: 1000, since: '0/0' });
      } finally {
        clearInterval(timer);
      }
      locateRuns.push(Number(process.hrtime.bigint() - started) / 1e6);
      const c = process.cpuUsage(cpu);
      locateCpu.push((c.user + c.system) / 1000);
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    };
    const timeBareRun = async () => {
      const b = await timeBare(dir!);
      bareRuns.push(b.wallMs);
      bareCpu.push(b.cpuMs);
    };
    for (let i = 0; i < runs; i++) {
      if (i % 2 === 0) {
        await timeBareRun();
        await timeLocate();
      } else {
        await timeLocate();
        await timeBareRun();
      }
      log(`run ${i + 1}/${runs}: bare pg_waldump ${sec(bareRuns[i]!)} (its CPU ${sec(bareCpu[i]!)}), locate ${sec(locateRuns[i]!)} (undrop's CPU ${sec(locateCpu[i]!)}) → ${(locateRuns[i]! / bareRuns[i]!).toFixed(2)}×`);
    }
    if (!r) throw new Error('no runs');
    const bareMs = Math.min(...bareRuns);
    const locateMs = Math.min(...locateRuns);
    const pairRatios = locateRuns.map((l, i) => l / bareRuns[i]!).sort((a, b) => a - b);
    const round2 = (x: number) => Math.round(x * 100) / 100;
    const result: LocateBenchResult = {
      walBytes,
      segments: segs.length,
      records: r.stats.records,
      bareMs: Math.round(bareMs),
      locateMs: Math.round(locateMs),
      ratio: round2(locateMs / bareMs),
      ratioMedian: round2(pairRatios[Math.floor((pairRatios.length - 1) / 2)]!),
      bareRunsMs: bareRuns.map(Math.round),
      locateRunsMs: locateRuns.map(Math.round),
      bareCpuMs: Math.round(Math.min(...bareCpu)),
      locateCpuMs: Math.round(Math.min(...locateCpu)),
      rssStartMb: Math.round(rssStart / 1e6),
      rssPeakMb: Math.round(rssPeak / 1e6),
      maxOpenTransactions: r.stats.maxOpenXacts,
      eventsFound: r.events.length,
    };
    log(
      `locate bench: ${(walBytes / 1e9).toFixed(2)} GB WAL, ${segs.length} segments, ${r.stats.records} records, ${r.events.length} events; best of ${runs}: ` +
        `bare pg_waldump ${sec(bareMs)}, locate ${sec(locateMs)} → ${result.ratio}× (median of paired runs ${result.ratioMedian}×, spread ${pairRatios.map((x) => x.toFixed(2)).join('/')}); ` +
        `RSS ${result.rssStartMb} → peak ${result.rssPeakMb} MB`,
    );
    return result;
  } finally {
    await cleanup();
  }
}
