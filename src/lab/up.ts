// `lab up`: build the lab as a checklist of steps. Each step records what it
// made in lab.json as soon as it exists, so status, incident and down work
// from another process, and a build that fails halfway can be stopped and
// removed. On failure, every process the build started is stopped.
import { chmod, mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UndropError, failure, usageError } from '../errors.js';
import { findBinaries, type PgBinaries } from '../postgres/binaries.js';
import { registerCleanup } from '../postgres/cleanup.js';
import type { TempInstance } from '../postgres/instance.js';
import { readPostmasterPid } from '../postgres/instance.js';
import { quoteIdent } from '../postgres/identifiers.js';
import { assertServerCanWrite, chownForServer } from '../postgres/os-user.js';
import { takeBaseBackup } from './backups.js';
import { LAB_DATABASE, LOST_TABLES, createDataset, loadRange, scaleCounts } from './dataset.js';
import { hasDefect, oldDumpDate, plantUpDefects } from './defects.js';
import { stopLabProcesses } from './down.js';
import { takeDumps } from './dumps.js';
import { writeInventory } from './inventory.js';
import { labLayout, type LabLayout } from './layout.js';
import { parseScale } from './scale.js';
import { pgbackrestAvailable, pgbackrestFullBackup, setUpPgbackrest } from './pgbackrest.js';
import { barmanAvailable, barmanBackup, barmanFlush, setUpBarman } from './barman.js';
import { createPrimary } from './primary.js';
import { isOurs } from './processes.js';
import { type Progress, silent, step } from './progress.js';
import { createReplica, REPLICA_SLOT } from './replica.js';
import { delayMs, loadScenario, type Scenario } from './scenarios.js';
import { takeSnapshot } from './snapshots.js';
import { type LabState, dirHasEntries, readState, saveState } from './state.js';
import { startWorkload } from './workload.js';

export interface UpOptions {
  dir?: string;
  scenario?: string;
  scale?: number;
  /** Overrides the scenario's replica delay. */
  delay?: string;
  tcp?: boolean;
  progress?: Progress;
  /** Another application's database beside the lab's (the bench: what selective restore skips). */
  otherDatabase?: OtherDatabase;
  /** Build only some of the scenario's sources (the bench at seed scale: a full lab does not fit every disk). */
  components?: Partial<Scenario['components']>;
}

export interface OtherDatabase {
  name: string;
  /** Rows of ~1 kB in its one table. */
  rows: number;
}

/** What the steps share while the lab is built. */
export interface BuildContext {
  layout: LabLayout;
  scenario: Scenario;
  state: LabState;
  bin: PgBinaries;
  delayMs: number;
  delayText: string;
  notes: string[];
  otherDatabase?: OtherDatabase;
  primary?: TempInstance;
  replica?: TempInstance;
  save(): Promise<void>;
}

export interface BuildStep {
  id: string;
  title: string | ((c: BuildContext) => string);
  when?: (c: BuildContext) => boolean;
  run: (c: BuildContext) => Promise<string>;
}

const pct = (n: number) => `${Math.round(n * 100)}%`;
/** Rows loaded before the plain base backup, after it, and while the workload runs. */
export const LOAD_PLAN = [0.8, 0.9, 1.0] as const;

function primaryOf(c: BuildContext): TempInstance {
  if (!c.primary) throw new Error('the primary is not running');
  return c.primary;
}

/** The checklist. Extend it here; each step says what it built. */
export const buildSteps: BuildStep[] = [
  {
    id: 'primary',
    title: 'Production primary (data checksums, wal_level replica, WAL archiving, replication role)',
    run: async (c) => {
      c.primary = await createPrimary(c.bin, c.layout, { socketDir: c.state.socketDir, tcp: c.state.tcp, archive: c.scenario.components.archive });
      c.state.primary = { root: c.primary.root, dataDir: c.primary.dataDir, logFile: c.primary.logFile, port: c.primary.port, pid: readPostmasterPid(c.primary.dataDir) ?? null, superuser: c.primary.superuser, archiveMode: c.scenario.components.archive };
      c.state.archive = c.scenario.components.archive ? c.layout.archive : null;
      return `port ${c.primary.port}, socket ${c.state.socketDir}${c.scenario.components.archive ? `, archiving to ${c.layout.archive}` : ', no archiving'}`;
    },
  },
  {
    id: 'dataset',
    title: (c) => `Database "${LAB_DATABASE}" with ${pct(LOAD_PLAN[0])} of its rows`,
    run: async (c) => {
      const client = await primaryOf(c).connect('postgres');
      try {
        await client.query(`CREATE DATABASE ${LAB_DATABASE}`);
      } finally {
        await client.end();
      }
      const db = await primaryOf(c).connect(LAB_DATABASE);
      try {
        await createDataset(db, c.state.scale, LOAD_PLAN[0]);
      } finally {
        await db.end();
      }
      const n = scaleCounts(c.state.scale);
      return `${n.shipments} shipments, ${n.events} events, ${n.invoices} invoices at full scale`;
    },
  },
  {
    id: 'other-database',
    title: (c) => `Database "${c.otherDatabase!.name}" (another application's; nothing in it is lost)`,
    when: (c) => !!c.otherDatabase,
    run: async (c) => {
      const o = c.otherDatabase!;
      await primaryOf(c).query(`CREATE DATABASE ${quoteIdent(o.name)}`);
      const db = await primaryOf(c).connect(o.name);
      try {
        await db.query(`CREATE TABLE ledger (id bigint PRIMARY KEY, entry text); INSERT INTO ledger SELECT g, repeat(md5(g::text), 30) FROM generate_series(1, ${Math.floor(o.rows)}) g`);
      } finally {
        await db.end();
      }
      return `${o.rows} rows`;
    },
  },
  {
    id: 'pgbackrest',
    title: 'pgBackRest repository and stanza (archive-push after the plain archive)',
    when: (c) => c.scenario.components.pgbackrest,
    run: async (c) => {
      if (!(await pgbackrestAvailable())) {
        c.notes.push('pgbackrest is not installed: the lab has no pgBackRest repository (apt-get install pgbackrest adds it).');
        return 'skipped: pgbackrest not installed';
      }
      const r = await setUpPgbackrest(c.layout, primaryOf(c));
      c.state.pgbackrest = { ...r, backups: [] };
      return `stanza ${r.stanza}, config ${r.config}`;
    },
  },
  {
    id: 'barman',
    title: 'Barman server (streaming archiver through a replication slot, backup_method postgres)',
    when: (c) => !!c.scenario.components.barman,
    run: async (c) => {
      if (!(await barmanAvailable())) {
        c.notes.push('barman is not installed: the lab has no Barman server (apt-get install barman adds it).');
        return 'skipped: barman not installed';
      }
      const r = await setUpBarman(c.layout, c.bin, primaryOf(c));
      c.state.barman = { ...r, backups: [] };
      return `server ${r.server}, config ${r.config}`;
    },
  },
  {
    id: 'base-plain',
    title: 'Base backup, plain format',
    when: (c) => c.scenario.components.base_backups,
    run: async (c) => {
      const b = await takeBaseBackup(c.bin, c.layout, primaryOf(c), 'plain');
      c.state.baseBackups.push(b);
      return b.path;
    },
  },
  {
    id: 'business-1',
    title: `More business: rows up to ${pct(LOAD_PLAN[1])}`,
    run: async (c) => {
      const db = await primaryOf(c).connect(LAB_DATABASE);
      try {
        await loadRange(db, c.state.scale, LOAD_PLAN[0], LOAD_PLAN[1]);
      } finally {
        await db.end();
      }
      return '';
    },
  },
  {
    id: 'dumps-nightly',
    title: 'Nightly dumps (custom format and plain SQL)',
    when: (c) => c.scenario.components.dumps,
    run: async (c) => {
      const labelled = oldDumpDate(c.scenario);
      const d = await takeDumps(c.bin, c.layout, primaryOf(c), ['custom', 'plain'], labelled);
      c.state.dumps.push(...d);
      return d.map((x) => x.path).join(', ');
    },
  },
  {
    id: 'snapshot',
    title: 'Filesystem snapshot (primary stopped with -m immediate, data directory copied, restarted)',
    when: (c) => c.scenario.components.snapshots,
    run: async (c) => {
      const s = await takeSnapshot(c.bin, c.layout, primaryOf(c));
      c.state.snapshots.push(s);
      c.state.primary!.pid = readPostmasterPid(primaryOf(c).dataDir) ?? null;
      return `${s.path} (crash-consistent, as of LSN ${s.lsn})`;
    },
  },
  {
    id: 'workload',
    title: 'Background workload (pgbench, a few application transactions a second)',
    run: async (c) => {
      const p = primaryOf(c);
      const w = await startWorkload(c.bin, c.layout, { socketDir: p.socketDir, port: p.port, user: p.superuser });
      c.state.workload = { pid: w.pid, script: c.layout.workloadScript, log: c.layout.workloadLog, rate: w.rate, startedAt: new Date().toISOString() };
      return `pid ${w.pid}, ${w.rate} tx/s`;
    },
  },
  {
    id: 'business-2',
    title: `More business while the application runs: rows up to ${pct(LOAD_PLAN[2])}`,
    run: async (c) => {
      const db = await primaryOf(c).connect(LAB_DATABASE);
      try {
        await loadRange(db, c.state.scale, LOAD_PLAN[1], LOAD_PLAN[2]);
      } finally {
        await db.end();
      }
      return '';
    },
  },
  {
    id: 'base-tar',
    title: 'Base backup, tar format with gzip',
    when: (c) => c.scenario.components.base_backups,
    run: async (c) => {
      const b = await takeBaseBackup(c.bin, c.layout, primaryOf(c), 'tar');
      c.state.baseBackups.push(b);
      return b.path;
    },
  },
  {
    id: 'pgbackrest-backup',
    title: 'pgBackRest full backup',
    when: (c) => !!c.state.pgbackrest,
    run: async (c) => {
      const b = await pgbackrestFullBackup(c.layout);
      c.state.pgbackrest!.backups.push(b);
      return b.label ?? '';
    },
  },
  {
    id: 'barman-backup',
    title: 'Barman backup (pg_basebackup, waiting for its WAL)',
    when: (c) => !!c.state.barman,
    run: async (c) => {
      const b = await barmanBackup(c.state.barman!.config);
      c.state.barman!.backups.push(b);
      return b.id ?? '';
    },
  },
  {
    id: 'dumps-latest',
    title: 'Latest nightly dump (custom format)',
    when: (c) => c.scenario.components.dumps && !hasDefect(c.scenario, 'old-good-dump'),
    run: async (c) => {
      const d = await takeDumps(c.bin, c.layout, primaryOf(c), ['custom']);
      c.state.dumps.push(...d);
      return d.map((x) => x.path).join(', ');
    },
  },
  {
    id: 'replica',
    title: (c) => `Delayed replica (slot ${REPLICA_SLOT}, recovery_min_apply_delay ${c.delayText})`,
    when: (c) => c.scenario.components.replica,
    run: async (c) => {
      c.replica = await createReplica(c.bin, c.layout, primaryOf(c), { delayMs: c.delayMs, tcp: c.state.tcp });
      c.state.replica = { root: c.replica.root, dataDir: c.replica.dataDir, logFile: c.replica.logFile, port: c.replica.port, pid: readPostmasterPid(c.replica.dataDir) ?? null, superuser: c.replica.superuser, slot: REPLICA_SLOT, delay: c.delayText };
      return `port ${c.replica.port}`;
    },
  },
  {
    id: 'defects',
    title: (c) => `Scenario "${c.scenario.name}": planting its defects`,
    when: (c) => c.scenario.defects.length > 0,
    run: async (c) => {
      const planted = await plantUpDefects(c.bin, c.layout, c.scenario, c.state);
      c.state.defects.push(...planted);
      const later = c.scenario.defects.filter((d) => d.kind === 'wal-gap').length;
      return `${planted.length} planted${later ? `, ${later} at the incident` : ''}`;
    },
  },
  {
    id: 'archive-flush',
    title: 'Switch WAL and wait until it is archived',
    when: (c) => c.scenario.components.archive,
    run: async (c) => {
      const seg = await switchAndWaitArchived(primaryOf(c));
      return `last archived ${seg}`;
    },
  },
  {
    id: 'barman-flush',
    title: 'Switch WAL and wait until Barman has it',
    when: (c) => !!c.state.barman,
    run: async (c) => {
      await barmanFlush(c.state.barman!.config);
      return '';
    },
  },
  {
    id: 'inventory',
    title: 'Inventory (undrop.yaml)',
    run: async (c) => {
      await writeInventory(c.layout, c.state);
      return c.layout.inventoryFile;
    },
  },
];

/**
 * Switch WAL and wait until that segment is archived. `timeoutMs` without progress: at seed scale the
 * archiver (a copy and a gzipped pgBackRest push per segment) can be minutes behind on a busy machine
 * (a seed bench failed at a flat 120 s, 19 segments behind) and still moving; it is stuck only when no
 * segment gets archived for that long.
 */
export async function switchAndWaitArchived(primary: TempInstance, timeoutMs = 300_000): Promise<string> {
  const r = await primary.query<{ seg: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS seg');
  const seg = r.rows[0]!.seg;
  let until = Date.now() + timeoutMs;
  let seen: string | null = null;
  for (;;) {
    const a = await primary.query<{ last: string | null; failed: string }>('SELECT last_archived_wal AS last, failed_count::text AS failed FROM pg_stat_archiver');
    const last = a.rows[0]!.last;
    if (last && last.slice(0, 24) >= seg) return last;
    if (last !== seen) {
      seen = last;
      until = Date.now() + timeoutMs;
    }
    if (Date.now() > until) {
      throw failure('LAB_ARCHIVE_STUCK', `WAL segment ${seg} was not archived: nothing was archived for ${timeoutMs / 1000} s (last archived: ${last ?? 'none'}, failures: ${a.rows[0]!.failed}).`, {
        hint: `Look for "archive command failed" in ${primary.logFile}.`,
      });
    }
    await new Promise((res) => setTimeout(res, 200));
  }
}

function initialState(layout: LabLayout, scenario: Scenario, bin: PgBinaries, o: { scale: number; tcp: boolean; socketDir: string }): LabState {
  return {
    kind: 'undrop-lab',
    version: 1,
    dir: layout.dir,
    state: 'building',
    scenario: scenario.name,
    scale: o.scale,
    tcp: o.tcp,
    createdAt: new Date().toISOString(),
    upCompletedAt: null,
    incidentAt: null,
    error: null,
    pg: { major: bin.major, version: bin.version, bindir: bin.dir },
    socketDir: o.socketDir,
    socketDirOutside: !o.socketDir.startsWith(layout.dir + '/'),
    database: LAB_DATABASE,
    tables: [...LOST_TABLES],
    primary: null,
    replica: null,
    workload: null,
    archive: null,
    baseBackups: [],
    snapshots: [],
    dumps: [],
    pgbackrest: null,
    barman: null,
    defects: [],
    steps: [],
  };
}

export const LAB_PROGRAMS = ['initdb', 'pg_ctl', 'postgres', 'pg_basebackup', 'pg_dump', 'pg_restore', 'pgbench', 'pg_waldump', 'pg_archivecleanup', 'pg_controldata'];

/** Refuse a folder that is not empty and not a lab, and a lab that already exists. */
export async function checkDirFree(layout: LabLayout): Promise<void> {
  const existing = await readState(layout).catch((e: unknown) => {
    if (e instanceof UndropError) throw usageError('LAB_DIR_NOT_EMPTY', `${layout.dir} holds a damaged lab.json.`, `Remove the folder by hand or run \`undrop lab down --dir ${layout.dir}\`.`);
    throw e;
  });
  if (existing) {
    const running = isOurs(existing.primary?.pid ?? readPostmasterPid(join(layout.primaryRoot, 'data')), 'postgres');
    if (running && (existing.state === 'up' || existing.state === 'incident')) {
      throw usageError('LAB_RUNNING', `A lab is already running in ${layout.dir} (scenario ${existing.scenario}, up since ${existing.upCompletedAt ?? existing.createdAt}).`, `Use it (undrop lab status --dir ${layout.dir}), or remove it first with \`undrop lab down --dir ${layout.dir}\`.`);
    }
    throw usageError('LAB_EXISTS', `${layout.dir} holds a lab in state "${existing.state}"${running ? '' : ' whose servers are not running'}.`, `Remove it first with \`undrop lab down --dir ${layout.dir}\`.`);
  }
  if (dirHasEntries(layout.dir)) {
    throw usageError('LAB_DIR_NOT_EMPTY', `${layout.dir} is not empty and is not a lab.`, 'Choose an empty or new folder with --dir; lab up never builds into a folder with other files.');
  }
}

async function chooseSocketDir(layout: LabLayout): Promise<string> {
  if (layout.preferredSocketDir) return layout.preferredSocketDir;
  const d = await mkdtemp(join(tmpdir(), 'undrop-lab-'));
  await chmod(d, 0o700);
  await chownForServer(d, false);
  return d;
}

export async function labUp(o: UpOptions = {}): Promise<{ state: LabState; scenario: Scenario; notes: string[]; durationMs: number }> {
  const started = Date.now();
  const progress = o.progress ?? silent;
  const layout = labLayout(o.dir);
  const loaded = loadScenario(o.scenario ?? 'happy');
  const scenario: Scenario = o.components ? { ...loaded, components: { ...loaded.components, ...o.components } } : loaded;
  const scale = parseScale(o.scale);
  const delayText = o.delay ?? scenario.replica_delay;
  const ms = delayMs(delayText);
  if (ms === undefined) {
    throw usageError('LAB_DELAY_INVALID', `--delay ${delayText} is not a duration.`, 'Use for example --delay 10min, --delay 2min, --delay 1h or --delay 0.');
  }
  await checkDirFree(layout);
  const bin = await findBinaries();
  for (const p of LAB_PROGRAMS) bin.path(p);

  await mkdir(layout.dir, { recursive: true });
  await chownForServer(layout.dir, false);
  await assertServerCanWrite(layout.dir);
  const socketDir = await chooseSocketDir(layout);
  const state = initialState(layout, scenario, bin, { scale, tcp: !!o.tcp, socketDir });
  const ctx: BuildContext = {
    layout,
    scenario,
    state,
    bin,
    delayMs: ms,
    delayText,
    notes: [],
    otherDatabase: o.otherDatabase,
    save: () => saveState(layout, state),
  };
  await ctx.save();

  // Ctrl-C during the build stops what was started (the files stay for lab down).
  const unregister = registerCleanup({
    label: `lab build in ${layout.dir}`,
    run: async () => {
      state.state = 'failed';
      state.error = 'interrupted';
      await ctx.save().catch(() => {});
      await stopLabProcesses(layout, state);
    },
    runSync: () => {
      if (state.workload) {
        try {
          process.kill(state.workload.pid, 'SIGTERM');
        } catch {
          /* gone */
        }
      }
      for (const d of [state.replica?.dataDir, state.primary?.dataDir]) {
        const pid = d ? readPostmasterPid(d) : undefined;
        if (pid) {
          try {
            process.kill(pid, 'SIGQUIT');
          } catch {
            /* gone */
          }
        }
      }
    },
  });

  let current = '';
  try {
    for (const s of buildSteps) {
      if (s.when && !s.when(ctx)) continue;
      current = typeof s.title === 'string' ? s.title : s.title(ctx);
      const t0 = Date.now();
      await step(progress, s.id, current, () => s.run(ctx), (d) => d);
      state.steps.push({ name: s.id, durationMs: Date.now() - t0, at: new Date().toISOString() });
      await ctx.save();
    }
    state.state = 'up';
    state.upCompletedAt = new Date().toISOString();
    await ctx.save();
  } catch (e) {
    state.state = 'failed';
    state.error = `${current}: ${e instanceof Error ? e.message : String(e)}`;
    await ctx.save().catch(() => {});
    await stopLabProcesses(layout, state).catch(() => []);
    unregister();
    const inner = e instanceof UndropError ? e : undefined;
    throw failure('LAB_UP_FAILED', `lab up failed at "${current}": ${e instanceof Error ? e.message : String(e)}`, {
      hint: `Every process it started was stopped; its files and logs stay in ${layout.dir}. Remove them with \`undrop lab down --dir ${layout.dir}\`.`,
      details: inner?.details,
      cause: e,
    });
  }
  unregister();
  for (const n of ctx.notes) progress({ type: 'note', text: n });
  return { state, scenario, notes: ctx.notes, durationMs: Date.now() - started };
}
