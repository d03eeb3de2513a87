// End-to-end bench: on one lab (a busy primary, every source kind, a second
// database the lost tables are not in), per source kind and in the same run:
//   undrop    `undrop recover --source S --target xid:N` through the CLI,
//             from spawn to a verified side schema
//   manual    the expert's script (manual.ts) with the same exclusive target
//   floor     the manual run's own copy + replay phases, plus one binary COPY
//             per table into unindexed tables (floor.ts)
//   control   the same recover from a control build whose checksums count
//             rows and hash nothing (build/bundle.ts): the difference is what
//             verification costs the run
// N runs each, alternating which goes first (the control always beside
// undrop); medians and ratios.
import { execSync } from 'node:child_process';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import YAML from 'yaml';
import { bundleCli, CONTROL_OUTDIR } from '../../build/bundle.js';
import { registerCleanup } from '../../postgres/cleanup.js';
import { withClient } from '../../postgres/connect.js';
import { parseTableName, quoteLiteral } from '../../postgres/identifiers.js';
import { type TableChecksum, tableChecksum } from '../../recovery/checksum.js';
import { findFreePort } from '../../postgres/ports.js';
import { chownForServer } from '../../postgres/os-user.js';
import { runProgram } from '../../postgres/run.js';
import { findBinaries } from '../../postgres/binaries.js';
import { pgArchivecleanup } from '../../postgres/lab-programs.js';
import { pgbackrestInfo } from '../../postgres/programs.js';
import { parsePgbackrestInfo } from '../../sources/pgbackrest/info.js';
import { diskUsage } from '../../sources/materialize/preflight.js';
import { labDown } from '../../lab/down.js';
import { labIncident } from '../../lab/incident.js';
import { labIncidentWithReplica } from '../../lab/replica-state.js';
import { SOURCE_NAMES } from '../../lab/inventory.js';
import { labLayout, pgbackrestPushCommand } from '../../lab/layout.js';
import { LAB_DATABASE, LOST_TABLES, scaleCounts } from '../../lab/dataset.js';
import { readState } from '../../lab/state.js';
import { labUp } from '../../lab/up.js';
import { type ClusterComposition, clusterComposition } from './composition.js';
import { rawCopyMs } from './floor.js';
import { type ManualContext, type ManualPhases, manualScript, parsePhases, type SourceKind } from './manual.js';
import { runUndrop, type UndropRun } from './undrop-run.js';

export interface E2eOptions {
  /** Lab --scale: shipments; 3 × this many rows in the lost tables. */
  scale: number;
  /** Rows (~1 kB each) of the other database. */
  otherRows: number;
  runs: number;
  dir: string;
  kinds?: SourceKind[];
  /** Also run pgBackRest with --process-max 1 (against the default: one per core). */
  processMaxCompare?: boolean;
  /** Run the control (hashing off) beside undrop (default true). */
  control?: boolean;
  /** Trim the plain WAL archive to the pgBackRest backup's first segment once the lab is built (scales.ts). */
  trimArchive?: boolean;
  log: (line: string) => void;
}

export interface CaseResult {
  kind: SourceKind;
  label: string;
  runs: number;
  undrop: { medianMs: number; runsMs: number[]; verifyMedianMs: number; steps: Record<string, number>; loadParts?: Record<string, number>; phases: Record<string, number>; replicaPausedMs?: number };
  manual: { medianMs: number; runsMs: number[]; phases: ManualPhases };
  /** The control build's runs (checksums count rows, hash nothing); absent when not run, as in results recorded before. */
  control?: { medianMs: number; runsMs: number[] };
  floorMs: number | null;
  floorParts: { copyMs: number; replayMs: number; rowsMs: number } | null;
  ratioManual: number;
  ratioFloor: number | null;
  /** The wall time production-side checksums ran (union), plus waits for the source side, over the run. */
  verifyShare: number;
  /** What hashing costs the run: 1 − control ÷ undrop, medians (a run's noise here is larger than the pairing would cancel). */
  verifyCost?: number;
  rows: number;
  /** Sources reaching the moment before the DROP (physical backups; the replica, paused before the incident): undrop's checksums equal the lab's truth. */
  checksumsEqualTruth: boolean;
  /** undrop's tables equal what the manual procedure restored from the same source (same yardstick). */
  checksumsEqualManual: boolean;
  /** Tables whose identity (the source holds the lost table, not its successor) was proven, over all undrop runs' tables. */
  identityProven?: string;
  loadAvg: number[];
}

export interface E2eResult {
  scale: number;
  rowsLost: number;
  otherRows: number;
  runs: number;
  machine: Record<string, unknown>;
  labUpMs: number;
  /** The lost tables' share of the cluster, before the incident (absent in results recorded before). */
  composition?: ClusterComposition;
  /** What the bench did to the lab beyond building it (the report prints them). */
  notes?: string[];
  cases: CaseResult[];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : Math.round((s[m - 1]! + s[m]!) / 2);
};
const r2 = (x: number) => Math.round(x * 100) / 100;

function machineFacts(bindir: string): Record<string, unknown> {
  const sh = (c: string) => {
    try {
      return execSync(c, { encoding: 'utf8' }).trim();
    } catch {
      return null;
    }
  };
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGb: Math.round(totalmem() / 1e9),
    freeMemoryGb: Math.round(freemem() / 1e9),
    node: process.version,
    postgres: sh(`${bindir}/postgres --version`),
    pgbackrest: sh('pgbackrest version'),
    kernel: sh('uname -sr'),
    disk: sh(`df -h --output=source,fstype,size ${process.env.TMPDIR ?? '/tmp'} | tail -1`),
    commit: sh('git rev-parse --short HEAD'),
    at: new Date().toISOString(),
    loadAvgAtStart: loadavg().map(r2),
  };
}


/**
 * The lab's plain WAL archive without what precedes the pgBackRest backup (pg_archivecleanup), as a
 * retention policy keeps it, and no longer fed (archive_command: pgBackRest's archive-push alone):
 * pgBackRest's runs and the manual ones read only pgBackRest's archive, and every run writes its
 * rows into production — at seed scale ~2.5 GB of WAL per write, which the plain copy would double.
 */
async function trimPlainArchive(dir: string, log: (line: string) => void): Promise<{ note: string; inventory: string }> {
  const layout = labLayout(dir);
  const state = (await readState(layout))!;
  const pgbr = state.pgbackrest;
  if (!pgbr || !state.archive) throw new Error('trimming the WAL archive needs the lab\'s pgBackRest repository and plain archive');
  const info = parsePgbackrestInfo((await pgbackrestInfo({ config: pgbr.config, stanza: pgbr.stanza })).stdout, pgbr.stanza);
  const first = info?.backups.map((b) => b.archiveStart).filter((x): x is string => !!x).sort()[0];
  if (!first) throw new Error('trimming the WAL archive: pgBackRest reports no backup with its first WAL segment');
  const before = await diskUsage(state.archive);
  const push = pgbackrestPushCommand(pgbr);
  await withClient({ host: state.socketDir, port: state.primary!.port, user: state.primary!.superuser, database: 'postgres' }, async (c) => {
    await c.query(`ALTER SYSTEM SET archive_command = ${quoteLiteral(push)}`);
    await c.query('SELECT pg_reload_conf()');
  });
  await pgArchivecleanup(await findBinaries(state.pg.major), state.archive, first);
  // a shop that archives through pgBackRest alone lists its stanza, not a folder nothing feeds any more
  const doc = YAML.parse(await readFile(layout.inventoryFile, 'utf8')) as { sources: { kind: string }[] };
  doc.sources = doc.sources.filter((s) => s.kind === 'pgbackrest');
  const inventory = join(layout.dir, 'undrop-pgbackrest-only.yaml');
  await writeFile(inventory, YAML.stringify(doc), { mode: 0o600 });
  const line = `The lab's plain WAL archive was trimmed to the pgBackRest backup's first segment ${first} (pg_archivecleanup, as retention would): ${(before / 1e9).toFixed(1)} → ${((await diskUsage(state.archive)) / 1e9).toFixed(1)} GB, and from then on only pgBackRest archived WAL; the runs' inventory lists the pgBackRest stanza alone (every WAL read, locate's included, is the repository's).`;
  log(`  ${line}`);
  return { note: line, inventory };
}

export async function benchE2e(o: E2eOptions): Promise<E2eResult> {
  const log = o.log;
  const layout = labLayout(o.dir);
  await labDown(layout).catch(() => undefined);
  // Ctrl-C stops the lab's servers and workload too (a seed-scale lab holds tens of GB)
  const unregister = registerCleanup({ label: 'bench lab', run: () => labDown(layout).then(() => undefined), runSync: () => {} });
  log(`building the lab in ${layout.dir}: scale ${o.scale} (${(scaleCounts(o.scale).shipments * 3).toLocaleString('en')} rows in the lost tables), other database ${o.otherRows.toLocaleString('en')} rows`);
  const kinds = o.kinds ?? (['delayed-replica', 'pitr', 'pgbackrest', 'snapshot', 'dump'] as SourceKind[]);
  // the trimmed archive lacks what PITR, a snapshot, a replica or a dump may read before the pgBackRest backup
  if (o.trimArchive && kinds.some((k) => k !== 'pgbackrest')) throw new Error('a trimmed WAL archive (this scale) serves pgBackRest only: run it with --kinds pgbackrest');
  const withControl = o.control !== false;
  if (withControl) {
    log(`building the control CLI (hashing off) in ${CONTROL_OUTDIR}`);
    await bundleCli({ outdir: CONTROL_OUTDIR, benchControl: true });
  }
  // only the sources the chosen kinds need: at seed scale the whole lab is ~40 GB before any restore
  const components = { archive: true, base_backups: kinds.includes('pitr'), pgbackrest: kinds.includes('pgbackrest'), snapshots: kinds.includes('snapshot'), replica: kinds.includes('delayed-replica'), dumps: kinds.includes('dump') };
  const up = await labUp({ dir: layout.dir, scale: o.scale, otherDatabase: { name: 'ledger', rows: o.otherRows }, components, progress: (e) => (e.type === 'done' ? log(`  lab: ${e.title} (${e.durationMs} ms)`) : undefined) });
  try {
    const before = up.state.primary!;
    const composition = await clusterComposition({ host: up.state.socketDir, port: before.port, user: before.superuser, database: LAB_DATABASE }, [...LOST_TABLES]);
    const notes: string[] = [];
    const trimmed = o.trimArchive ? await trimPlainArchive(layout.dir, log) : undefined;
    if (trimmed) notes.push(trimmed.note);
    const inventory = trimmed?.inventory ?? layout.inventoryFile;
    log(`  lost tables ${(composition.lostBytes / 1e6).toFixed(0)} MB with TOAST and indexes, ${((100 * composition.lostBytes) / composition.clusterBytes).toFixed(1)} % of the cluster's ${(composition.clusterBytes / 1e9).toFixed(2)} GB`);
    // The replica paused before the incident (as a responder's first step does): its manual dump
    // never meets the lock trap, which otherwise depends on timing (shared notes §3).
    const { truth } = kinds.includes('delayed-replica') ? await labIncidentWithReplica({ dir: layout.dir, replica: 'paused-before-incident' }) : await labIncident({ dir: layout.dir });
    const state = (await readState(layout))!;
    // The lab's own writes (tens of GB at the larger scales) flushed before the first run, not during it,
    // where the side that runs first would pay for them. (What a first run pays for reading a cold cache
    // stays: seed-tenth, one run, undrop 145 s then its control 74 s; hence 3 runs there, sides alternating.)
    const s0 = Date.now();
    execSync('sync');
    log(`  the lab's writes flushed to disk (sync, ${((Date.now() - s0) / 1000).toFixed(1)} s)`);
    const bindir = state.pg.bindir;
    const machine = machineFacts(bindir);
    const prodSocket = state.socketDir;
    const prodPort = state.primary!.port;
    const user = state.primary!.superuser;
    const prodConn = { host: prodSocket, port: prodPort, user, database: LAB_DATABASE };
    const scratch = { ...prodConn, database: 'bench_manual' };
    const tables = [...LOST_TABLES];
    const xid = truth.incident.xid;
    const plain = state.baseBackups.find((b) => b.format === 'plain');
    const dump = [...state.dumps].filter((d) => d.format === 'custom' && d.valid).sort((a, b) => a.takenAt.localeCompare(b.takenAt)).pop();
    const work = join(layout.dir, 'bench');
    await mkdir(work, { recursive: true });
    await chownForServer(work, false);
    const truthOf = (t: string) => truth.beforeIncident.tables[t];

    const cases: CaseResult[] = [];
    const variants: { kind: SourceKind; label: string; extra?: string[] }[] = [];
    for (const k of kinds) {
      if (k === 'pgbackrest' && !state.pgbackrest) continue;
      variants.push({ kind: k, label: k });
      if (k === 'pgbackrest' && o.processMaxCompare) variants.push({ kind: k, label: 'pgbackrest, --process-max 1', extra: ['--process-max', '1'] });
    }
    for (const v of variants) {
      const sourceName = SOURCE_NAMES[v.kind === 'delayed-replica' ? 'replica' : v.kind === 'dump' ? 'dump' : v.kind];
      log(`${v.label}:`);
      const undropRuns: UndropRun[] = [];
      const controlRuns: UndropRun[] = [];
      const manualRuns: ManualPhases[] = [];
      const floorRows: number[] = [];
      const loads: number[] = [];
      let rowsBack = 0;
      let equal = true;
      let equalManual = true;
      let manualSums: Record<string, TableChecksum> = {};
      const undropSums: Record<string, string>[] = [];
      for (let i = 1; i <= o.runs; i++) {
        const manualOnce = async () => {
          await withClient(prodConn, (c) => c.query('DROP DATABASE IF EXISTS bench_manual').then(() => c.query('CREATE DATABASE bench_manual')));
          const dir = join(work, `m-${v.kind}-${i}`);
          const port = await findFreePort({ socketDirs: [dir] });
          const ctx: ManualContext = {
            kind: v.kind, dir, port, bindir, database: LAB_DATABASE, tables, xid,
            production: { socketDir: prodSocket, port: prodPort, user, database: 'bench_manual' },
            plainBackup: plain?.path, walArchive: state.archive ?? undefined,
            pgbackrest: state.pgbackrest ? { config: state.pgbackrest.config, stanza: state.pgbackrest.stanza } : undefined,
            snapshot: state.snapshots[state.snapshots.length - 1]?.path, dump: dump?.path,
            replica: state.replica ? { socketDir: prodSocket, port: state.replica.port, user: state.replica.superuser } : undefined,
          };
          try {
            const r = await runProgram('bash', ['-c', manualScript(ctx)], { asServerUser: true, timeoutMs: 4 * 3600_000, allowFailure: true });
            if (r.exitCode !== 0) throw new Error(`manual ${v.kind} script failed (exit ${r.exitCode}): ${r.stderr.split('\n').slice(-6).join(' | ')}`);
            const phases = parsePhases(r.stdout);
            manualRuns.push(phases);
            // what the manual run restored, on undrop's yardstick: both must bring back the same rows
            manualSums = await withClient(scratch, async (c) => {
              const sums: Record<string, TableChecksum> = {};
              for (const t of tables) sums[t] = await tableChecksum(c, parseTableName(t));
              return sums;
            });
            // the floor's rows: one binary COPY per table from the instance the manual run started
            if (v.kind !== 'dump') {
              const from = v.kind === 'delayed-replica' ? { host: prodSocket, port: state.replica!.port, user: state.replica!.superuser, database: LAB_DATABASE } : { host: dir, port, user, database: LAB_DATABASE };
              floorRows.push(await rawCopyMs(from, scratch, tables.map((t) => ({ schema: 'public', name: t.split('.')[1]! }))));
            }
            log(`  manual run ${i}: ${(phases.totalMs / 1000).toFixed(2)} s (copy ${phases.copyMs}, replay ${phases.replayMs}, rows ${phases.rowsMs} ms)`);
          } finally {
            if (v.kind !== 'dump' && v.kind !== 'delayed-replica') await runProgram(`${bindir}/pg_ctl`, ['-D', join(dir, 'data'), 'stop', '-m', 'immediate'], { asServerUser: true, allowFailure: true });
            await rm(dir, { recursive: true, force: true });
          }
        };
        const undropOnce = async (control = false) => {
          const schema = `bench_${v.kind.replace('-', '_')}_${i}${v.extra ? '_pm1' : ''}${control ? '_control' : ''}`;
          const u = await runUndrop({ config: inventory, source: sourceName, tables, xid, schema, extra: v.extra, control });
          // each build is what it claims: the control hashes nothing, undrop hashes every table
          const unhashed = u.tables.filter((t) => t.checksum.endsWith(':0:0') || (control && t.checksum === 'empty')).length;
          if (unhashed !== (control ? u.tables.length : 0)) throw new Error(`the ${control ? 'control' : 'undrop'} run's checksums (${u.tables.map((t) => t.checksum).join(', ')}) are not what its build should give`);
          (control ? controlRuns : undropRuns).push(u);
          rowsBack = u.tables.reduce((n, t) => n + t.rows, 0);
          // on the lab truth's yardstick (hash128, the default), not the run's own (colhash64 where the types allow)
          const sums = await withClient(prodConn, async (c) => {
            const out: Record<string, TableChecksum> = {};
            for (const t of u.tables) out[t.name] = await tableChecksum(c, { schema, name: parseTableName(t.name).name });
            return out;
          });
          // the control's rows are checked against the truth too, not against the manual run
          if (!control) undropSums.push(Object.fromEntries(Object.entries(sums).map(([n, x]) => [n, x.checksum])));
          for (const t of u.tables.map((x) => ({ name: x.name, ...sums[x.name]! }))) {
            const want = truthOf(t.name);
            // physical sources reach the moment before the DROP: exactly the truth
            if ((v.kind === 'pitr' || v.kind === 'pgbackrest' || v.kind === 'delayed-replica') && want && (want.rows !== t.rows || want.checksum !== t.checksum)) equal = false;
          }
          await withClient(prodConn, (c) => c.query(`DROP SCHEMA "${schema}" CASCADE`));
          log(`  ${control ? 'control' : 'undrop'} run ${i}: ${(u.wallMs / 1000).toFixed(2)} s (verify ${u.verifyMs} ms${u.replicaPausedMs !== undefined ? `, replica paused after ${u.replicaPausedMs} ms` : ''})`);
        };
        loads.push(loadavg()[0]!);
        // the control next to undrop, on either side of it in turn: a pair meets the same machine
        const pair = async () => {
          if (withControl && i % 2 === 0) await undropOnce(true);
          await undropOnce();
          if (withControl && i % 2) await undropOnce(true);
        };
        if (i % 2) {
          await pair();
          await manualOnce();
        } else {
          await manualOnce();
          await pair();
        }
        // a paused replica stays paused for the next run: both sides find it so
        for (const [t, sum] of Object.entries(manualSums)) if (undropSums[undropSums.length - 1]?.[t] !== sum.checksum) equalManual = false;
      }
      const uMs = undropRuns.map((u) => u.wallMs);
      const mMs = manualRuns.map((m) => m.totalMs);
      const floorParts = v.kind === 'dump' ? null : { copyMs: median(manualRuns.map((m) => m.copyMs)), replayMs: median(manualRuns.map((m) => m.replayMs)), rowsMs: median(floorRows) };
      const floorMs = floorParts ? floorParts.copyMs + floorParts.replayMs + floorParts.rowsMs : null;
      const stepNames = [...new Set(undropRuns.flatMap((u) => Object.keys(u.steps)))];
      const steps = Object.fromEntries(stepNames.map((s) => [s, median(undropRuns.map((u) => u.steps[s] ?? 0))]));
      const partNames = [...new Set(undropRuns.flatMap((u) => Object.keys(u.loadParts)))];
      const loadParts = Object.fromEntries(partNames.map((p) => [p, median(undropRuns.map((u) => u.loadParts[p] ?? 0))]));
      const phaseNames = [...new Set(undropRuns.flatMap((u) => Object.keys(u.phases)))];
      const phases = Object.fromEntries(phaseNames.map((s) => [s, median(undropRuns.map((u) => u.phases[s] ?? 0))]));
      const paused = undropRuns.map((u) => u.replicaPausedMs).filter((x): x is number => x !== undefined);
      const c: CaseResult = {
        kind: v.kind,
        label: v.label,
        runs: o.runs,
        undrop: { medianMs: median(uMs), runsMs: uMs, verifyMedianMs: median(undropRuns.map((u) => u.verifyMs)), steps, loadParts, phases, ...(paused.length ? { replicaPausedMs: median(paused) } : {}) },
        manual: { medianMs: median(mMs), runsMs: mMs, phases: { copyMs: median(manualRuns.map((m) => m.copyMs)), replayMs: median(manualRuns.map((m) => m.replayMs)), rowsMs: median(manualRuns.map((m) => m.rowsMs)), totalMs: median(mMs) } },
        floorMs,
        floorParts,
        ratioManual: r2(median(uMs) / median(mMs)),
        ratioFloor: floorMs ? r2(median(uMs) / floorMs) : null,
        verifyShare: r2(median(undropRuns.map((u) => u.verifyMs)) / median(uMs)),
        ...(controlRuns.length ? { control: { medianMs: median(controlRuns.map((u) => u.wallMs)), runsMs: controlRuns.map((u) => u.wallMs) }, verifyCost: r2(1 - median(controlRuns.map((u) => u.wallMs)) / median(uMs)) } : {}),
        rows: rowsBack,
        checksumsEqualTruth: equal,
        checksumsEqualManual: equalManual,
        identityProven: `${undropRuns.flatMap((u) => u.tables).filter((t) => t.identity === 'proven').length}/${undropRuns.flatMap((u) => u.tables).length}`,
        loadAvg: loads.map(r2),
      };
      cases.push(c);
      log(`  → undrop ${(c.undrop.medianMs / 1000).toFixed(2)} s, manual ${(c.manual.medianMs / 1000).toFixed(2)} s (${c.ratioManual}×), floor ${floorMs ? `${(floorMs / 1000).toFixed(2)} s (${c.ratioFloor}×)` : '—'}, checksums' wall span ${Math.round(c.verifyShare * 100)} %${c.verifyCost !== undefined ? `, verification's cost ${Math.round(c.verifyCost * 100)} % (control ${((c.control?.medianMs ?? 0) / 1000).toFixed(2)} s)` : ''}`);
    }
    machine.loadAvgAtEnd = loadavg().map(r2);
    return { scale: o.scale, rowsLost: tables.reduce((n, t) => n + (truthOf(t)?.rows ?? 0), 0), otherRows: o.otherRows, runs: o.runs, machine, labUpMs: up.durationMs, composition, ...(notes.length ? { notes } : {}), cases };
  } finally {
    unregister();
    await labDown(layout).catch((e: unknown) => log(`lab down failed: ${String(e)}`));
  }
}

