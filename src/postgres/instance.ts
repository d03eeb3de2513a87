// Temporary PostgreSQL instances: from scratch (initdb) or from a copy of an
// existing data directory (a snapshot, a restored base backup). Safe by
// construction: private socket directory (0700), no TCP unless asked, a free
// port, archive_mode off, no primary_conninfo, no restore_command unless
// asked, copied slots and postmaster.pid removed from the copy only. A copy
// resolves inside its own folder (data-copy.ts: pg_wal and tablespaces
// copied in, checked before every start) and runs on undrop's own minimal
// configuration (server-config.ts: the source's is set aside, never patched).
// Instances live in the work directory's instance area (work-dir.ts).
// Registered for cleanup on exit, error and Ctrl-C unless kept.
import { existsSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { appendFile, chmod, mkdir, readFile, readdir, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type pg from 'pg';
import { failure, usageError } from '../errors.js';
import { sleep } from '../util/time.js';
import type { PgBinaries } from './binaries.js';
import { registerCleanup } from './cleanup.js';
import { connect, withClient } from './connect.js';
import type { ConnParams } from './conninfo.js';
import { quoteIdent } from './identifiers.js';
import { assertContained, type CopyRecord, copyDataDir, internalizeLinks, type WalFilter } from './data-copy.js';
import { assertServerCanWrite, chownForServer } from './os-user.js';
import { findFreePort, releasePort } from './ports.js';
import { initdbFromTemplate } from './initdb-template.js';
import { initdb, pgControldata, pgCtlStart, pgCtlStop } from './programs.js';
import { execClean, tail } from './run.js';
import { mustMatchSettings, type SetAside, setAsideConfig } from './server-config.js';
import { phase } from './phases.js';
import { alive } from './process-tree.js';
import { postgresSettings } from './settings.js';
import { defaultWorkDirFor, instanceArea, tempFolder } from './work-dir.js';

export type RecoveryMode = 'none' | 'recovery' | 'standby';

export interface InstanceOptions {
  bin: PgBinaries;
  /** Parent folder; the instance gets its own subfolder. */
  workDir: string;
  /** Short name used in folder names and messages ("pitr", "snapshot"). */
  name: string;
  /** Extra settings appended after the safe ones (later lines win). */
  settings?: Record<string, string | number | boolean>;
  /** Also listen on 127.0.0.1 (off by default). */
  tcp?: boolean;
  /** Connect as this role; for copies, tried before the usual names. */
  superuser?: string;
  /** Leave running and on disk at exit (--keep). */
  keep?: boolean;
  /** Use exactly this folder (must not exist yet) instead of a fresh one under workDir (the lab's fixed layout). */
  root?: string;
  /** Use this socket directory (created 0700 if missing) instead of a private one under /tmp. */
  socketDir?: string;
  /** Try this port first. */
  port?: number;
}

export interface FromDataDirOptions extends InstanceOptions {
  /** 'recovery' writes recovery.signal (PITR), 'standby' standby.signal; default none (crash recovery). */
  recovery?: RecoveryMode;
  /** Copy the source first (the default and the rule for snapshots); false adopts a folder undrop already owns. */
  copy?: boolean;
  /** Of pg_wal (a folder, or where its link leads), copy only these files (a snapshot's crash recovery reads no others). */
  walKeep?: WalFilter;
}

/** Settings every temporary instance gets, whatever its origin. */
export function safeSettings(dataDir: string, socketDir: string, port: number, tcp: boolean): Record<string, string | number | boolean> {
  return {
    listen_addresses: tcp ? '127.0.0.1' : '',
    port,
    unix_socket_directories: socketDir,
    unix_socket_permissions: '0700',
    archive_mode: 'off',
    archive_command: '',
    primary_conninfo: '',
    primary_slot_name: '',
    restore_command: '',
    archive_cleanup_command: '',
    recovery_end_command: '',
    recovery_min_apply_delay: 0,
    synchronous_standby_names: '',
    shared_preload_libraries: '',
    hot_standby_feedback: 'off',
    // '' is not "none": the postmaster tries to open "" and logs a failure; inside the copy it is harmless and removed at exit
    external_pid_file: join(dataDir, 'undrop_external.pid'),
    max_logical_replication_workers: 0,
    logging_collector: 'off',
    ssl: 'off',
    hba_file: join(dataDir, 'undrop_hba.conf'),
    ident_file: join(dataDir, 'undrop_ident.conf'),
    cluster_name: 'undrop-temp',
    log_line_prefix: '%m [%p] ',
    log_min_messages: 'log',
  };
}

/**
 * Durability a throwaway copy does not need: a crash of the temp instance
 * means starting over from the source anyway, never repairing the copy. Not
 * used for instances kept with --keep (someone may go on working in them).
 */
export const THROWAWAY_SETTINGS: Readonly<Record<string, string | number | boolean>> = {
  fsync: 'off',
  full_page_writes: 'off',
  synchronous_commit: 'off',
};

function formatValue(v: string | number | boolean): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

export function settingsBlock(settings: Record<string, string | number | boolean>): string {
  return Object.entries(settings)
    .map(([k, v]) => `${k} = ${formatValue(v)}`)
    .join('\n');
}

/** --work-dir, $UNDROP_WORK_DIR, or the invoking user's state directory (work-dir.ts). */
export function defaultWorkDir(): string {
  return postgresSettings().workDir ?? defaultWorkDirFor();
}

async function makeSocketDir(): Promise<{ dir: string; release: () => void }> {
  // Unix socket paths are limited to ~107 bytes: keep this one short, in /tmp.
  const made = tempFolder(tmpdir(), 'undrop-s-');
  await chmod(made.dir, 0o700);
  await chownForServer(made.dir, false);
  return made;
}

export class TempInstance {
  readonly root: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly socketDir: string;
  readonly bin: PgBinaries;
  readonly name: string;
  port: number;
  superuser: string;
  private unregister: (() => void) | undefined;
  private running = false;
  /** False when the socket directory was given by the caller (shared; not removed on destroy). */
  ownsSocketDir = true;
  /** For copies: the source as given and as resolved, pg_wal and tablespaces copied in. */
  copyRecord: CopyRecord | undefined;
  /** For copies: the source's configuration, set aside (not used), and what it set. */
  sourceConfig: SetAside | undefined;
  private kept = false;

  private constructor(o: { root: string; socketDir: string; port: number; bin: PgBinaries; name: string; superuser: string; keep?: boolean }) {
    this.root = o.root;
    this.dataDir = join(o.root, 'data');
    this.logFile = join(o.root, 'server.log');
    this.socketDir = o.socketDir;
    this.port = o.port;
    this.bin = o.bin;
    this.name = o.name;
    this.superuser = o.superuser;
    this.kept = !!o.keep;
    if (!o.keep) {
      this.unregister = registerCleanup({
        label: `temporary instance ${o.name} (${this.root})`,
        run: () => this.destroy(),
        runSync: () => this.destroySync(),
      });
    }
  }

  /** The instance's folders; until `release` (once the instance registered its own cleanup) each is removed on exit or Ctrl-C. */
  private static async allocate(o: InstanceOptions): Promise<{ root: string; socketDir: string; port: number; release: () => void }> {
    const releases: (() => void)[] = [];
    let root: string;
    if (o.root) {
      // The lab's fixed layout: its folder is the lab's, not a work directory.
      await mkdir(o.workDir, { recursive: true });
      await chownForServer(o.workDir, false);
      await assertServerCanWrite(o.workDir);
      if (existsSync(o.root) && (await readdir(o.root)).length > 0) {
        throw usageError('INSTANCE_DIR_EXISTS', `${o.root} already exists and is not empty.`, 'Remove it or choose another folder.');
      }
      await mkdir(o.root, { recursive: true });
      root = resolve(o.root);
    } else {
      // Private work directory (checked), instances in its instance area; only each instance's own folder goes to the server user.
      const area = instanceArea(o.workDir);
      await assertServerCanWrite(area, false);
      const made = tempFolder(area, `${o.name}-`);
      releases.push(made.release);
      root = made.dir;
    }
    let socketDir: string;
    if (o.socketDir) {
      await mkdir(o.socketDir, { recursive: true, mode: 0o700 });
      await chmod(o.socketDir, 0o700);
      await chownForServer(o.socketDir, false);
      socketDir = resolve(o.socketDir);
    } else {
      const made = await makeSocketDir();
      releases.push(made.release);
      socketDir = made.dir;
    }
    const port = await findFreePort({ preferred: o.port, socketDirs: [socketDir] });
    return { root, socketDir, port, release: () => releases.forEach((r) => r()) };
  }

  /** A fresh, empty cluster (initdb; a throwaway one copies the work directory's template: initdb-template.ts). */
  static async create(o: InstanceOptions & { dataChecksums?: boolean; noSync?: boolean; throwaway?: boolean }): Promise<TempInstance> {
    const a = await TempInstance.allocate(o);
    const inst = new TempInstance({ ...a, bin: o.bin, name: o.name, superuser: o.superuser ?? 'postgres', keep: o.keep });
    a.release(); // the instance's own cleanup covers its folders now
    inst.ownsSocketDir = !o.socketDir;
    try {
      await chownForServer(a.root, false);
      const init = { dataDir: inst.dataDir, superuser: inst.superuser, dataChecksums: o.dataChecksums, noSync: o.noSync ?? true };
      if (o.throwaway) await phase(`${o.name}: initdb (a copy of the work directory's empty cluster)`, () => initdbFromTemplate(o.bin, init, o.workDir));
      else await initdb(o.bin, init);
      await inst.writeSafeConfig(o.tcp ?? false, { ...(o.throwaway && !o.keep ? THROWAWAY_SETTINGS : {}), ...(o.settings ?? {}) });
    } catch (e) {
      await inst.destroy();
      throw e;
    }
    return inst;
  }

  /**
   * A copy of an existing data directory, prepared to start safely. The
   * source is never modified: it is resolved (a link to a data directory is
   * followed, both names recorded), copied with pg_wal and tablespaces
   * brought inside the instance folder, and its configuration set aside.
   */
  static async fromDataDir(source: string, o: FromDataDirOptions): Promise<TempInstance> {
    if (!existsSync(join(source, 'PG_VERSION'))) {
      throw usageError('NOT_A_DATA_DIR', `${source} is not a PostgreSQL data directory (no PG_VERSION).`, 'Point at the folder that contains PG_VERSION, base/ and global/.');
    }
    const a = await TempInstance.allocate(o);
    const inst = new TempInstance({ ...a, bin: o.bin, name: o.name, superuser: o.superuser ?? 'postgres', keep: o.keep });
    a.release(); // the instance's own cleanup covers its folders now
    inst.ownsSocketDir = !o.socketDir;
    try {
      if (o.copy === false) {
        // A folder undrop made (an extraction, a restore): moved in, its tablespaces with it.
        const resolved = await realpath(source);
        await rm(inst.dataDir, { recursive: true, force: true });
        await moveFolder(resolved, inst.dataDir);
        inst.copyRecord = { source, resolved, ...(await internalizeLinks(inst.dataDir, a.root, { moveFrom: dirname(resolved), walKeep: o.walKeep })) };
      } else {
        inst.copyRecord = await phase(`${o.name}: copy the data directory`, () => copyDataDir(source, a.root, { walKeep: o.walKeep }));
      }
      await phase(`${o.name}: prepare the copy (configuration, ownership)`, async () => {
        inst.sourceConfig = await setAsideConfig(inst.dataDir, join(a.root, 'source-config'));
        await inst.prepareCopy(o.recovery ?? 'none');
        const control = await pgControldata(o.bin, inst.dataDir);
        await chmod(inst.dataDir, 0o700);
        // a copy is always throwaway (unless kept); writeFreshConfig gives the whole folder to the server user last
        await inst.writeFreshConfig(o.tcp ?? false, { ...(o.keep ? {} : THROWAWAY_SETTINGS), ...mustMatchSettings(control), ...(o.settings ?? {}) });
      });
    } catch (e) {
      await inst.destroy();
      throw e;
    }
    return inst;
  }

  /**
   * An instance undrop made earlier and described elsewhere (the lab's
   * lab.json): same layout (root/data, root/server.log), kept, never
   * registered for cleanup, its socket directory not owned.
   */
  static attach(o: { bin: PgBinaries; root: string; socketDir: string; port: number; name: string; superuser?: string }): TempInstance {
    const inst = new TempInstance({ root: resolve(o.root), socketDir: o.socketDir, port: o.port, bin: o.bin, name: o.name, superuser: o.superuser ?? 'postgres', keep: true });
    inst.ownsSocketDir = false;
    inst.running = existsSync(join(inst.dataDir, 'postmaster.pid'));
    return inst;
  }

  /** Remove what belongs to the original server, in the copy only. */
  private async prepareCopy(recovery: RecoveryMode): Promise<void> {
    for (const f of ['postmaster.pid', 'postmaster.opts', 'standby.signal', 'recovery.signal']) {
      await rm(join(this.dataDir, f), { force: true });
    }
    // Copied replication slots would retain WAL and could be used by someone else's standby.
    const slots = join(this.dataDir, 'pg_replslot');
    if (existsSync(slots)) {
      for (const s of await readdir(slots)) await rm(join(slots, s), { recursive: true, force: true });
    }
    if (recovery === 'recovery') await writeFile(join(this.dataDir, 'recovery.signal'), '');
    if (recovery === 'standby') await writeFile(join(this.dataDir, 'standby.signal'), '');
  }

  /**
   * Safe settings go last in postgresql.auto.conf, which is read after
   * postgresql.conf (and its includes), so they win over anything copied.
   */
  private async writeSafeConfig(tcp: boolean, extra: Record<string, string | number | boolean>): Promise<void> {
    await writeFile(join(this.dataDir, 'undrop_hba.conf'), 'local all all trust\nlocal replication all trust\n' + (tcp ? 'host all all 127.0.0.1/32 trust\n' : ''));
    await writeFile(join(this.dataDir, 'undrop_ident.conf'), '');
    const block = settingsBlock({ ...safeSettings(this.dataDir, this.socketDir, this.port, tcp), ...extra });
    await appendFile(join(this.dataDir, 'postgresql.auto.conf'), `\n# --- undrop: temporary instance settings (last wins) ---\n${block}\n`);
    await chownForServer(this.root);
  }

  /**
   * A copy's configuration, from nothing: postgresql.conf holds the safe
   * settings, what must match the source, and the caller's recovery
   * settings; postgresql.auto.conf starts empty (configure() appends there).
   */
  private async writeFreshConfig(tcp: boolean, settings: Record<string, string | number | boolean>): Promise<void> {
    await writeFile(join(this.dataDir, 'undrop_hba.conf'), 'local all all trust\nlocal replication all trust\n' + (tcp ? 'host all all 127.0.0.1/32 trust\n' : ''));
    await writeFile(join(this.dataDir, 'undrop_ident.conf'), '');
    const block = settingsBlock({ ...safeSettings(this.dataDir, this.socketDir, this.port, tcp), timezone: 'UTC', log_timezone: 'UTC', lc_messages: 'C', ...settings });
    await writeFile(join(this.dataDir, 'postgresql.conf'), `# Written by undrop for a temporary instance; the source's configuration is in ../source-config.\n${block}\n`);
    await writeFile(join(this.dataDir, 'postgresql.auto.conf'), '# undrop: settings added before a start\n');
    await chownForServer(this.root);
  }

  /** Append settings (for example a recovery target) before the next start. */
  async configure(settings: Record<string, string | number | boolean>): Promise<void> {
    await appendFile(join(this.dataDir, 'postgresql.auto.conf'), `${settingsBlock(settings)}\n`);
    await chownForServer(join(this.dataDir, 'postgresql.auto.conf'), false);
  }

  /** Start and wait until connections are accepted (read-only ones count, as for pg_ctl -w). */
  start(timeoutSec = 300): Promise<void> {
    return phase(`${this.name}: start`, () => this.startNow(timeoutSec));
  }

  private async startNow(timeoutSec: number): Promise<void> {
    // Nothing under the data directory may lead outside the instance's folder (a copy's pg_wal, a tablespace).
    if (this.copyRecord) await assertContained(this.dataDir, this.root);
    for (let attempt = 0; attempt < 4; attempt++) {
      const r = await pgCtlStart(this.bin, this.dataDir, this.logFile, timeoutSec);
      if (r.exitCode === 0) {
        this.running = true;
        await this.detectSuperuser();
        return;
      }
      const log = this.logTail(30);
      // Someone took the port between the check and the start: pick another.
      if (log.some((l) => /could not bind|already in use|lock file .* already exists/.test(l)) && attempt < 3) {
        releasePort(this.port);
        this.port = await findFreePort({ socketDirs: [this.socketDir] });
        await this.configure({ port: this.port });
        continue;
      }
      // pg_ctl can report failure while the postmaster is still alive (e.g. -t expired).
      await pgCtlStop(this.bin, this.dataDir, 'immediate', 20).catch(() => {});
      throw failure('INSTANCE_START_FAILED', `The temporary PostgreSQL instance "${this.name}" did not start.`, {
        hint: `Its server log is ${this.logFile}; the last lines are below.`,
        details: log.length ? log : tail(r.stderr || r.stdout),
      });
    }
  }

  /** Roles tried when the copied cluster's superuser is unknown. */
  private async detectSuperuser(): Promise<void> {
    const names = [...new Set([this.superuser, 'postgres', process.env.USER ?? '', 'root'].filter(Boolean))];
    let lastError: unknown;
    for (const user of names) {
      try {
        await withClient({ ...this.connParams('postgres'), user }, async () => {}, { connectTimeoutMs: 10_000 });
        this.superuser = user;
        return;
      } catch (e) {
        lastError = e;
        if ((e as { code?: string }).code === 'AUTH_FAILED' || /role .* does not exist/.test(String((e as Error).message))) continue;
        throw e;
      }
    }
    throw failure('INSTANCE_NO_SUPERUSER', `Could not find a role to connect to the temporary instance "${this.name}" as.`, {
      hint: 'Name the cluster\'s superuser in the inventory (superuser: NAME).',
      cause: lastError,
    });
  }

  connParams(database = 'postgres'): ConnParams {
    return { host: this.socketDir, port: this.port, user: this.superuser, database, application_name: 'undrop' };
  }

  connect(database = 'postgres'): Promise<pg.Client> {
    return connect(this.connParams(database));
  }

  query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = [], database = 'postgres'): Promise<pg.QueryResult<T>> {
    return withClient(this.connParams(database), (c) => c.query<T>(sql, params));
  }

  /** An empty database for a restore; postgres and template1 exist in every fresh cluster already (a dump of "postgres" is restored into it). */
  async ensureDatabase(name: string): Promise<void> {
    await withClient(this.connParams('postgres'), async (c) => {
      if ((await c.query('select 1 from pg_database where datname = $1', [name])).rowCount) return;
      await c.query(`create database ${quoteIdent(name)}`);
    });
  }

  isRunning(): boolean {
    return this.running;
  }

  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (!existsSync(join(this.dataDir, 'postmaster.pid'))) {
      this.running = false;
      return;
    }
    if (mode === 'immediate' && (await stopImmediately(this.dataDir))) {
      this.running = false;
      return;
    }
    const r = await pgCtlStop(this.bin, this.dataDir, mode);
    if (r.exitCode !== 0 && mode === 'fast') await pgCtlStop(this.bin, this.dataDir, 'immediate');
    this.running = false;
  }

  /**
   * Stop and remove everything: data, log, socket directory. An immediate
   * stop: the data is removed next, so the shutdown checkpoint a fast stop
   * writes (every page still dirty, after a promotion that skipped its own)
   * would be work thrown away.
   */
  destroy(): Promise<void> {
    if (this.kept) return Promise.resolve();
    // One removal, whoever asks (the run's own finally, a signal's cleanup pass): its cleanup stays
    // registered until the folders are gone, so a signal that arrives meanwhile waits for this removal
    // instead of exiting under it (CI: a SIGTERM during copy back left the instance's folder behind).
    this.destroying ??= phase(`${this.name}: stop and remove`, async () => {
      try {
        await this.stop('immediate');
      } catch {
        /* signalled below */
      }
      if (readPostmasterPid(this.dataDir)) this.killSync();
      await waitForExit(this.postmasterPid, 15_000);
      await rm(this.root, { recursive: true, force: true });
      if (this.ownsSocketDir) await rm(this.socketDir, { recursive: true, force: true });
      releasePort(this.port);
    }).finally(() => this.unregister?.());
    return this.destroying;
  }

  private destroying: Promise<void> | undefined;

  /** Keep the instance after undrop exits; returns how to connect and how to remove it. */
  keep(): { connect: string; remove: string } {
    this.kept = true;
    this.unregister?.();
    return {
      connect: `psql "host=${this.socketDir} port=${this.port} user=${this.superuser} dbname=postgres"`,
      remove: `${this.bin.path('pg_ctl')} -D ${this.dataDir} -m fast stop && rm -rf ${this.root} ${this.socketDir}`,
    };
  }

  private postmasterPid: number | undefined;

  private killSync(): void {
    const pid = ownPostmasterPid(this.dataDir);
    if (pid) {
      this.postmasterPid = pid;
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {
        /* already gone */
      }
    }
  }

  private destroySync(): void {
    if (this.kept) return;
    this.killSync();
    rmSync(this.root, { recursive: true, force: true });
    if (this.ownsSocketDir) rmSync(this.socketDir, { recursive: true, force: true });
  }

  logTail(lines = 20): string[] {
    try {
      return tail(readFileSync(this.logFile, 'utf8'), lines);
    } catch {
      return [];
    }
  }

  async log(): Promise<string> {
    try {
      return await readFile(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }
}

export function readPostmasterPid(dataDir: string): number | undefined {
  try {
    const first = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0];
    const pid = Number(first);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The postmaster named in `dataDir`'s postmaster.pid, only while that process
 * runs in that data directory (the postmaster's working directory): the file
 * outlives a crashed server, and its pid may since belong to any process,
 * which undrop, as root, could signal. Without /proc the file is trusted, as
 * pg_ctl trusts it.
 */
function ownPostmasterPid(dataDir: string): number | undefined {
  const pid = readPostmasterPid(dataDir);
  if (!pid || !existsSync('/proc/self')) return pid;
  try {
    return realpathSync(`/proc/${pid}/cwd`) === realpathSync(dataDir) ? pid : undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EACCES' ? pid : undefined; // unreadable: cannot tell, as pg_ctl
  }
}

async function waitForExit(pid: number | undefined, timeoutMs: number): Promise<void> {
  if (!pid) return;
  const until = Date.now() + timeoutMs;
  while (Date.now() < until && alive(pid)) await sleep(100);
}

/**
 * What `pg_ctl stop -m immediate` does, without two programs (runuser, pg_ctl)
 * per stop: SIGQUIT to the postmaster named in postmaster.pid, then wait for
 * it to exit; a stale file (its pid no longer runs in the data directory) is
 * nothing to stop, and nothing is signalled. False (the caller falls back to
 * pg_ctl) when it cannot be signalled or does not exit within the time
 * pg_ctl would wait.
 */
async function stopImmediately(dataDir: string, timeoutMs = 60_000): Promise<boolean> {
  if (!readPostmasterPid(dataDir)) return false;
  const pid = ownPostmasterPid(dataDir);
  if (!pid) return true;
  try {
    process.kill(pid, 'SIGQUIT');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') return false;
  }
  // Stopped, as for pg_ctl, when the pid file is gone or the process is (pg_ctl polls every 100 ms).
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (readPostmasterPid(dataDir) !== pid || !alive(pid)) return true;
    await sleep(20);
  }
  return false;
}

/** mv: a rename within one filesystem (no program to start), mv itself across filesystems. */
async function moveFolder(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    await execClean('mv', [from, to], {});
  }
}

/** Copy files or folders (cp -a: links as links) into an existing folder, many per `cp` (one process per file is slow when a database holds thousands). */
export async function copyFilesInto(files: readonly string[], toDir: string): Promise<void> {
  for (let i = 0; i < files.length; i += 500) {
    const batch = files.slice(i, i + 500);
    const r = await execClean('cp', ['-a', '--reflink=auto', ...batch.map((f) => resolve(f)), toDir], { reject: false });
    if (r.exitCode !== 0) copyFailed(batch[0]!, String(r.stderr));
  }
}

function copyFailed(from: string, msg: string): never {
  if (/No space left/i.test(msg)) {
    throw failure('DISK_FULL', `Copying ${from} ran out of disk space.`, { hint: 'Free space in the work directory or choose another with --work-dir.', details: tail(msg) });
  }
  throw failure('COPY_FAILED', `Copying ${from} failed.`, { hint: 'Check that undrop can read every file of the source.', details: tail(msg) });
}

/** Copy a directory tree, preserving modes; reflinks where the filesystem allows. */
export async function copyTree(from: string, to: string): Promise<void> {
  const r = await execClean('cp', ['-a', '--reflink=auto', resolve(from), to], { reject: false });
  if (r.exitCode !== 0) {
    await rm(to, { recursive: true, force: true });
    copyFailed(from, String(r.stderr));
  }
}
