// The work directory holds copies of production data (instances, staging)
// and the incident reports: it must be private. Layout:
//   W/            0700 (0711 as root: the server OS user may cross it, never list it)
//   W/incidents/  0700, the invoking user's only: timelines and reports
//   W/instances/  0700 (0711 as root); each instance or staging folder in it
//                 is a fresh mkdtemp handed to the server OS user.
// An existing folder is checked with lstat (never followed): owned by the
// invoking user, not a symlink, not writable by others (its subfolders: not
// readable either).
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { usageError } from '../errors.js';
import { registerCleanup } from './cleanup.js';
import { isRoot } from './os-user.js';

/**
 * $UNDROP_WORK_DIR, else the invoking user's state directory. As root the
 * default is /var/lib/undrop: root's home is private to root, and the server
 * OS user must be able to cross the folders above its instances.
 */
export function defaultWorkDirFor(env: NodeJS.ProcessEnv = process.env, root = isRoot()): string {
  if (env.UNDROP_WORK_DIR) return resolve(env.UNDROP_WORK_DIR);
  if (env.XDG_STATE_HOME) return join(resolve(env.XDG_STATE_HOME), 'undrop');
  if (root) return '/var/lib/undrop';
  return join(homedir(), '.local', 'state', 'undrop');
}

function uid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

/**
 * Create `dir` with `mode`, or check the existing one; never follows a
 * symlink. `forbidden`: permission bits others must not have (the work
 * directory itself may be listable, never writable, by others: what it
 * holds is in private subfolders undrop creates).
 */
export function ensurePrivateDir(dir: string, mode: number, forbidden = 0o066): void {
  let st;
  try {
    st = lstatSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    mkdirSync(dirname(dir), { recursive: true });
    try {
      mkdirSync(dir, { mode });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return ensurePrivateDir(dir, mode, forbidden); // created meanwhile: check it
    }
    chmodSync(dir, mode); // umask may have removed bits
    return;
  }
  const hint = `Remove it or choose another folder with --work-dir (undrop creates it ${mode.toString(8).padStart(4, '0')}).`;
  if (st.isSymbolicLink()) throw usageError('WORK_DIR_UNSAFE', `${dir} is a symbolic link; undrop never follows one in its work directory.`, hint);
  if (!st.isDirectory()) throw usageError('WORK_DIR_UNSAFE', `${dir} exists and is not a folder.`, hint);
  const me = uid();
  if (me !== undefined && st.uid !== me) throw usageError('WORK_DIR_UNSAFE', `${dir} belongs to uid ${st.uid}, not to the user running undrop (uid ${me}).`, hint);
  const bad = st.mode & forbidden;
  if (bad) {
    const how = bad & 0o022 ? 'writable' : 'readable';
    throw usageError('WORK_DIR_UNSAFE', `${dir} is ${how} by other users (mode ${(st.mode & 0o777).toString(8)}); it holds copies of production data.`, `chmod ${mode.toString(8)} ${dir}, or choose another folder with --work-dir.`);
  }
  // As root the server user must cross W and W/instances: add the traverse bits, nothing else.
  if ((mode & 0o011) && (st.mode & 0o011) !== 0o011) chmodSync(dir, (st.mode & 0o7777) | 0o011);
}

const traverse = () => (isRoot() ? 0o711 : 0o700);

/** Check (or create) the work directory itself; returns its absolute path. */
export function prepareWorkDir(workDir: string): string {
  const dir = resolve(workDir);
  ensurePrivateDir(dir, traverse(), 0o022);
  return dir;
}

/** W/incidents, private to the invoking user. */
export function incidentsDir(workDir: string): string {
  const dir = join(prepareWorkDir(workDir), 'incidents');
  ensurePrivateDir(dir, 0o700);
  return dir;
}

/** W/instances: where instances and staging folders are made. */
export function instanceArea(workDir: string): string {
  const dir = join(prepareWorkDir(workDir), 'instances');
  ensurePrivateDir(dir, traverse());
  return dir;
}

/** W/templates: the empty clusters throwaway instances copy (initdb-template.ts). */
export function templateArea(workDir: string): string {
  const dir = join(prepareWorkDir(workDir), 'templates');
  ensurePrivateDir(dir, traverse());
  return dir;
}

const stages = new Map<string, () => void>();

/**
 * A new folder `<prefix>XXXXXX` in `parent`, removed at exit, on error and on
 * Ctrl-C until released. Made and registered in one synchronous step: with an
 * awaited mkdtemp, a second Ctrl-C (which exits at once) could land between
 * the two and leave the folder behind (CI caught a tarprobe- folder so).
 */
export function tempFolder(parent: string, prefix: string): { dir: string; release: () => void } {
  const dir = mkdtempSync(join(parent, prefix));
  const release = registerCleanup({
    label: `folder ${dir}`,
    // A program killed by the same signal may still be writing into it: retry ENOTEMPTY.
    run: async () => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 }),
    runSync: () => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 }),
  });
  return { dir, release };
}

/**
 * A fresh staging folder (a restore, an extraction) in the instance area,
 * removed at exit, on error and on Ctrl-C like an instance, unless released.
 */
export async function makeStage(workDir: string, prefix: string): Promise<string> {
  const { dir, release } = tempFolder(instanceArea(workDir), `${prefix}-`);
  stages.set(dir, release);
  return dir;
}

/** Remove a staging folder now (and forget its cleanup). */
export function removeStage(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  stages.get(dir)?.();
  stages.delete(dir);
}
