// Expand the inventory's path patterns ("/backups/dumps/*.dump",
// "/mnt/snapshots/*/pgdata"): "*", "?" and "[…]" inside a path segment.
// No "**": sources name their folders. Not tinyglobby: it drops dangling
// links and symlink loops silently, and the probe must report those
// (FILE_UNREADABLE), not lose them.
import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve, sep } from 'node:path';

const MAGIC = /[*?[]/;

function segmentRegex(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = seg.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        let body = seg.slice(i + 1, end);
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Every existing path matching the pattern, sorted; a pattern without wildcards returns itself if it exists. */
async function expandPattern(pattern: string): Promise<string[]> {
  const abs = isAbsolute(pattern) ? pattern : resolve(pattern);
  const parts = abs.split(sep).filter((p) => p.length > 0);
  let current: string[] = [sep];
  for (const part of parts) {
    const next: string[] = [];
    if (!MAGIC.test(part)) {
      for (const c of current) next.push(join(c, part));
    } else {
      const re = segmentRegex(part);
      for (const c of current) {
        let names: string[];
        try {
          names = await readdir(c);
        } catch {
          continue;
        }
        for (const n of names) if (re.test(n) && (!n.startsWith('.') || part.startsWith('.'))) next.push(join(c, n));
      }
    }
    current = next;
  }
  const out: string[] = [];
  for (const p of current) {
    try {
      await stat(p);
      out.push(p);
    } catch (e) {
      // A path that exists but cannot be stat'ed is still reported (the probe says why).
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') out.push(p);
    }
  }
  return out.sort();
}

export async function expandPatterns(patterns: readonly string[]): Promise<string[]> {
  const all = new Set<string>();
  for (const p of patterns) for (const m of await expandPattern(p)) all.add(m);
  return [...all].sort();
}
