import { createHash } from 'node:crypto';
import { chownSync, mkdirSync, statSync } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Work directory for integration tests: under the system temp dir, reachable by the postgres OS user. */
export function testWorkDir(): string {
  // One per OS user: undrop refuses a work directory that belongs to someone else.
  const uid = process.getuid?.();
  const dir = join(tmpdir(), uid === undefined || uid === 0 ? 'undrop-test' : `undrop-test-${uid}`);
  mkdirSync(dir, { recursive: true });
  // undrop refuses a work directory owned by someone else; older versions handed this one to the server user.
  if (uid !== undefined && statSync(dir).uid !== uid) chownSync(dir, uid, process.getgid!());
  return dir;
}

/**
 * Poll until `check` is true; throw (naming what was awaited) when it never is.
 * A wait that silently falls through lets a test go on against the wrong state.
 */
export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, o: { tries: number; everyMs: number }): Promise<void> {
  for (let i = 0; i < o.tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, o.everyMs));
  }
  throw new Error(`gave up waiting (${o.tries} × ${o.everyMs} ms): ${what}`);
}

/** What a DBA would compare to prove a folder was not touched: every path with its size, mtime and mode. */
export async function treeFingerprint(dir: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d)).sort()) {
      const p = join(d, e);
      const s = await lstat(p);
      h.update(`${p}\0${s.size}\0${s.mtimeMs}\0${s.mode}\n`);
      if (s.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return h.digest('hex');
}
