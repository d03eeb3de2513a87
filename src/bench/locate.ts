// Bench: locate's WAL scan against a bare pg_waldump over the same segments.
// Generates ≥ 1 GB of WAL in a throwaway instance that archives into a temp
// folder (or reuses --wal-dir), then times:
//   bare      pg_waldump over every segment, output discarded (the baseline)
//   filtered  pg_waldump with locate's resource-manager filter, output discarded
//   locate    the full locate scan (pg_waldump + parsing + event detection)
// and samples the peak RSS of this process during the locate scan.
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { findBinaries } from '../postgres/binaries.js';
import { TempInstance, defaultWorkDir } from '../postgres/instance.js';
import { chownForServer } from '../postgres/os-user.js';
import { listSegments } from '../postgres/waldump.js';
import { LOCATE_RMGRS, scanWal } from '../recovery/locate/scan.js';

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
  bareMs: number;
  filteredMs: number;
  locateMs: number;
  /** locate / bare pg_waldump. */
  ratio: number;
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
async function generateWal(workDir: string, walBytes: number, log: (l: string) => void): Promise<{ dir: string; cleanup: () => Promise<void> }> {
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

async function timeBare(dir: string, rmgrs: string[] | undefined): Promise<number> {
  const bin = await findBinaries();
  const segs = (await listSegments(dir)).filter((s) => !s.name.endsWith('.partial'));
  const args = ['-p', dir, ...(rmgrs ?? []).flatMap((r) => ['-r', r]), segs[0]!.name, segs[segs.length - 1]!.name];
  const started = process.hrtime.bigint();
  // Output discarded by the shell, as `pg_waldump … > /dev/null` would.
  await execa('sh', ['-c', `"$0" "$@" > /dev/null 2>&1; true`, bin.path('pg_waldump'), ...args], { reject: false });
  return Number(process.hrtime.bigint() - started) / 1e6;
}

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
    // Best of N, interleaved, so a busy machine hurts every contender alike.
    const runs = o.runs ?? 3;
    let bareMs = Infinity;
    let filteredMs = Infinity;
    let locateMs = Infinity;
    const rssStart = process.memoryUsage().rss;
    let rssPeak = rssStart;
    let r: Awaited<ReturnType<typeof scanWal>> | undefined;
    for (let i = 0; i < runs; i++) {
      bareMs = Math.min(bareMs, await timeBare(dir, undefined));
      filteredMs = Math.min(filteredMs, await timeBare(dir, LOCATE_RMGRS));
      const timer = setInterval(() => {
        rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      }, 50);
      const started = process.hrtime.bigint();
      r = await scanWal({ dir, threshold: 1000, since: '0/0' });
      locateMs = Math.min(locateMs, Number(process.hrtime.bigint() - started) / 1e6);
      clearInterval(timer);
      log(`  run ${i + 1}: bare ${(bareMs / 1000).toFixed(1)} s, locate ${(locateMs / 1000).toFixed(1)} s (best so far)`);
    }
    if (!r) throw new Error('no runs');
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    const result: LocateBenchResult = {
      walBytes,
      segments: segs.length,
      records: r.stats.records,
      bareMs: Math.round(bareMs),
      filteredMs: Math.round(filteredMs),
      locateMs: Math.round(locateMs),
      ratio: Math.round((locateMs / bareMs) * 100) / 100,
      rssStartMb: Math.round(rssStart / 1e6),
      rssPeakMb: Math.round(rssPeak / 1e6),
      maxOpenTransactions: r.stats.maxOpenXacts,
      eventsFound: r.events.length,
    };
    log(
      `locate bench: ${(walBytes / 1e9).toFixed(2)} GB WAL, ${segs.length} segments; bare pg_waldump ${(bareMs / 1000).toFixed(1)} s, ` +
        `pg_waldump with locate's filter ${(filteredMs / 1000).toFixed(1)} s, locate ${(locateMs / 1000).toFixed(1)} s ` +
        `(${result.ratio}× bare); RSS ${result.rssStartMb} → peak ${result.rssPeakMb} MB; ${r.stats.records} records parsed, ${r.events.length} events`,
    );
    return result;
  } finally {
    await cleanup();
  }
}

