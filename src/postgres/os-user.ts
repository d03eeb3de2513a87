// initdb and postgres refuse to run as root. When undrop runs as root (CI
// does), server programs run as an unprivileged OS user (default `postgres`,
// `--os-user` changes it) and the files they touch are handed to that user.
import { chown, lstat } from 'node:fs/promises';
import { execa } from 'execa';
import { usageError } from '../errors.js';
import { postgresSettings } from './settings.js';

// run.ts builds on this module: its own children get only PATH (no parent PG* variables) here.
const bare = () => ({ env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, extendEnv: false });

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** The argv prefix that runs a program as the server user (empty when not root). */
export function asServerUserPrefix(): string[] {
  return isRoot() ? ['runuser', '-u', postgresSettings().serverOsUser, '--'] : [];
}

/**
 * The uid and gid `chown USER:` gave (chown resolves the name, NSS included),
 * read back from its first result: later single paths are chowned directly,
 * without a program per path.
 */
const serverIds = new Map<string, { uid: number; gid: number }>();

/** Give a path (recursively) to the server OS user; no-op unless root. */
export async function chownForServer(path: string, recursive = true): Promise<void> {
  if (!isRoot()) return;
  const user = postgresSettings().serverOsUser;
  const ids = serverIds.get(user);
  if (ids && !recursive) return chown(path, ids.uid, ids.gid);
  try {
    await execa('chown', [...(recursive ? ['-R'] : []), `${user}:`, path], bare());
  } catch (e) {
    const msg = (e as { stderr?: string }).stderr ?? String(e);
    if (/invalid (user|spec)/i.test(msg)) {
      throw usageError(
        'OS_USER_MISSING',
        `undrop runs as root, so PostgreSQL server programs must run as another OS user, and "${postgresSettings().serverOsUser}" does not exist.`,
        `Create it (useradd --system ${postgresSettings().serverOsUser}) or name an existing user with --os-user.`,
      );
    }
    throw e;
  }
  if (!serverIds.has(user)) {
    const st = await lstat(path).catch(() => undefined);
    if (st && !st.isSymbolicLink()) serverIds.set(user, { uid: st.uid, gid: st.gid });
  }
}

/** Check that the server user can reach `dir` (every parent traversable) and, when `write`, write in it. */
export async function assertServerCanWrite(dir: string, write = true): Promise<void> {
  if (!isRoot()) return;
  const test = write ? ['-w', dir, '-a', '-x', dir] : ['-x', dir];
  const r = await execa('runuser', ['-u', postgresSettings().serverOsUser, '--', 'test', ...test], { reject: false, ...bare() });
  if (r.exitCode !== 0) {
    throw usageError(
      'WORK_DIR_UNREACHABLE',
      `The OS user "${postgresSettings().serverOsUser}" (which runs the PostgreSQL server programs, because undrop runs as root) cannot ${write ? 'write to' : 'reach'} ${dir}.`,
      'Choose a --work-dir whose parent folders that user can cross (mode o+x), for example under /var/lib or /var/tmp; a folder in /root is private to root.',
    );
  }
}
