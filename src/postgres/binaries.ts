// PostgreSQL programs, found per major version. Order: --pg-bin, then
// `pg_config --bindir`, /usr/lib/postgresql/N/bin, /usr/pgsql-N/bin, PATH.
// A data directory's PG_VERSION or a server's server_version_num says which
// major is needed; without one the newest installed is used.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { usageError } from '../errors.js';
import { memoizeAsync } from '../util/memo.js';
import { postgresSettings } from './settings.js';

export interface PgBinaries {
  major: number;
  version: string;
  dir: string;
  /** Absolute path of a program; a clear error when this installation lacks it. */
  path(program: string): string;
}

export interface DiscoveryEnv {
  pgBin?: string;
  pgConfigBindir?: string;
  pathEnv?: string;
  /** Folders that exist under /usr/lib/postgresql and /usr/pgsql-* (listed once). */
  debianMajors?: number[];
  rhelMajors?: number[];
}


/** Candidate folders in discovery order; pure, so the order is unit-tested. */
export function candidateDirs(env: DiscoveryEnv, major?: number): string[] {
  const out: string[] = [];
  const add = (d: string | undefined) => {
    if (d && !out.includes(d)) out.push(d);
  };
  add(env.pgBin);
  add(env.pgConfigBindir);
  const deb = major ? [major] : [...(env.debianMajors ?? [])].sort((a, b) => b - a);
  for (const m of deb) add(`/usr/lib/postgresql/${m}/bin`);
  const rh = major ? [major] : [...(env.rhelMajors ?? [])].sort((a, b) => b - a);
  for (const m of rh) add(`/usr/pgsql-${m}/bin`);
  for (const p of (env.pathEnv ?? '').split(delimiter)) add(p || undefined);
  return out;
}

function listMajors(parent: string, pattern: RegExp): number[] {
  try {
    return readdirSync(parent)
      .map((n) => pattern.exec(n)?.[1])
      .filter((x): x is string => !!x)
      .map(Number);
  } catch {
    return [];
  }
}

// pg_config's answer and a folder's version cannot change while undrop runs: asked once per process (on Debian
// pg_config is a wrapper script, four programs), by every findBinaries key alike.
const pgConfigBindir = memoizeAsync(async (): Promise<string | undefined> => {
  try {
    const r = await execa('pg_config', ['--bindir'], { reject: false, timeout: 5000 });
    return r.exitCode === 0 ? String(r.stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}, () => '');

const versionOf = memoizeAsync(async (dir: string): Promise<{ major: number; version: string } | undefined> => {
  const probe = ['pg_ctl', 'postgres', 'pg_dump', 'psql'].map((p) => join(dir, p)).find((p) => existsSync(p));
  if (!probe) return undefined;
  const r = await execa(probe, ['--version'], { reject: false, timeout: 5000 });
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(String(r.stdout));
  if (!m) return undefined;
  return { major: Number(m[1]), version: `${m[1]}.${m[2] ?? 0}` };
}, (dir) => dir);

/**
 * Ask pg_config (and the version of the folder discovery tries first) now, without waiting: probe calls this
 * first, so that program discovery, needed once a source's major version is read, overlaps the production check
 * and the first reads of the sources instead of following them.
 */
export function warmDiscovery(): void {
  const pgBin = postgresSettings().pgBin;
  void pgConfigBindir()
    .then((dir) => (pgBin ?? dir ? versionOf((pgBin ?? dir)!) : undefined))
    .catch(() => {});
}

function makeBinaries(dir: string, major: number, version: string): PgBinaries {
  return {
    dir,
    major,
    version,
    path(program: string) {
      const p = join(dir, program);
      if (!existsSync(p)) throw missingProgram(major, program, dir);
      return p;
    },
  };
}

export function installHint(major: number | undefined): string {
  const v = major ?? 15;
  return `Install them (Debian/Ubuntu: apt-get install postgresql-${v}; RHEL: dnf install postgresql${v}-server) or point --pg-bin at their folder.`;
}

function missingProgram(major: number, program: string, dir: string) {
  return usageError('PG_PROGRAM_MISSING', `${program} for PostgreSQL ${major} is not in ${dir}.`, installHint(major));
}

/** Find the programs of `major` (or the newest installed when omitted); once per --pg-bin and major. */
export const findBinaries: (major?: number) => Promise<PgBinaries> = memoizeAsync(
  (major?: number) => discover(major),
  (major?: number) => `${postgresSettings().pgBin ?? ''}|${major ?? 'newest'}`,
);

async function discover(major?: number): Promise<PgBinaries> {
  const configuredPgBin = postgresSettings().pgBin;
  if (configuredPgBin !== undefined) {
    if (!existsSync(configuredPgBin) || !statSync(configuredPgBin).isDirectory()) {
      throw usageError('PG_BIN_INVALID', `--pg-bin ${configuredPgBin}: no such folder.`, 'Point --pg-bin at the folder that holds pg_ctl, initdb and pg_dump (for example /usr/lib/postgresql/15/bin).');
    }
    const v = await versionOf(configuredPgBin);
    if (!v) {
      throw usageError('PG_BIN_INVALID', `--pg-bin ${configuredPgBin} holds no PostgreSQL programs.`, 'Point --pg-bin at the folder that holds pg_ctl, initdb and pg_dump (for example /usr/lib/postgresql/15/bin).');
    }
  }
  const env: DiscoveryEnv = {
    pgBin: configuredPgBin,
    pgConfigBindir: await pgConfigBindir(),
    pathEnv: process.env.PATH,
    debianMajors: listMajors('/usr/lib/postgresql', /^(\d+)$/),
    rhelMajors: listMajors('/usr', /^pgsql-(\d+)$/),
  };
  const found: { dir: string; major: number; version: string }[] = [];
  for (const dir of candidateDirs(env, major)) {
    const v = await versionOf(dir);
    if (!v) continue;
    if (major === undefined || v.major === major) {
      if (major !== undefined) return makeBinaries(dir, v.major, v.version);
      found.push({ dir, ...v });
    }
  }
  if (major === undefined && found.length > 0) {
    const best = found.reduce((a, b) => (b.major > a.major ? b : a));
    return makeBinaries(best.dir, best.major, best.version);
  }
  throw usageError(
    'PG_VERSION_MISSING',
    major === undefined
      ? 'No PostgreSQL programs were found (looked in --pg-bin, pg_config --bindir, /usr/lib/postgresql/*/bin, /usr/pgsql-*/bin and PATH).'
      : `PostgreSQL ${major} programs are needed (the source was made by PostgreSQL ${major}) but none were found.`,
    installHint(major),
  );
}

/** Major version of a data directory, from its PG_VERSION file. */
export async function dataDirMajor(dataDir: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(join(dataDir, 'PG_VERSION'), 'utf8');
  } catch {
    throw usageError('NOT_A_DATA_DIR', `${dataDir} is not a PostgreSQL data directory (no PG_VERSION file).`, 'Point the source at the folder that contains PG_VERSION, base/ and global/.');
  }
  const major = parseInt(text.trim(), 10);
  if (!Number.isFinite(major)) throw usageError('NOT_A_DATA_DIR', `${dataDir}/PG_VERSION is unreadable: "${text.trim()}".`);
  return major;
}

/** Major version from server_version_num (150018 → 15; 90624 → 9). */
export function majorFromVersionNum(num: number): number {
  return num >= 100000 ? Math.floor(num / 10000) : Math.floor(num / 100) / 100;
}
