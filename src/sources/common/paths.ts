// Expand the inventory's path patterns ("/backups/dumps/*.dump",
// "/mnt/snapshots/*/pgdata") with tinyglobby: files and folders, dot names
// only when the pattern spells them, a plain path returned when it exists.
import { glob } from 'tinyglobby';

/** Every existing path matching any of the patterns (absolute, no trailing slash), sorted, each once. */
export async function expandPatterns(patterns: readonly string[]): Promise<string[]> {
  const found = await glob([...patterns], { absolute: true, onlyFiles: false, expandDirectories: false, dot: false });
  return [...new Set(found.map((p) => (p.length > 1 ? p.replace(/\/+$/, '') : p)))].sort();
}
