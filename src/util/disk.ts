// Free space on a filesystem, as the checks before and after a write failure report it.
import { statfs } from 'node:fs/promises';

/** Bytes free to an unprivileged writer on the filesystem holding `path`; undefined when it cannot be read (gone). */
export async function freeBytes(path: string): Promise<number | undefined> {
  try {
    const s = await statfs(path);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return undefined;
  }
}
