// A copy of a data directory must resolve inside its own instance folder.
// Production layouts carry links that lead out of it: pg_wal on its own
// volume, pg_tblspc/<oid> links to tablespaces, a snapshot path that is
// itself a link, tablespace_map naming the original tablespace paths. A copy
// made with `cp -a` keeps those links, and a server started on it writes
// through them (crash recovery into the source's WAL volume, a tablespace
// created over the live one). So: the source is resolved (realpath) first,
// pg_wal and every tablespace are copied (dereferenced) into the instance
// folder and relinked there, tablespace_map is rewritten to the copies, and
// before any start assertContained() walks the copy and refuses anything
// that still resolves outside.
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, realpath, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { failure } from '../errors.js';
import { execClean, tail } from './run.js';

export interface CopiedTablespace {
  oid: string;
  /** Where the source's link (or tablespace_map line) pointed. */
  from: string;
  /** The copy, inside the instance folder. */
  to: string;
}

export interface CopyRecord {
  /** The path as given (possibly a symlink). */
  source: string;
  /** What it resolves to (realpath); the copy was made from this. */
  resolved: string;
  /** pg_wal was a link to this folder; its segments were copied. */
  walFrom?: string;
  tablespaces: CopiedTablespace[];
}

function inside(root: string, p: string): boolean {
  const r = relative(root, p);
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
}

/** Names of pg_wal's files to copy (the others are never read by the copy's recovery: crash-recovery-wal.ts). */
export type WalFilter = (name: string) => boolean;

async function cp(args: string[], from: string): Promise<void> {
  const r = await execClean('cp', ['-a', '--reflink=auto', ...args], { reject: false });
  if (r.exitCode !== 0) {
    const msg = String(r.stderr);
    if (/No space left/i.test(msg)) throw failure('DISK_FULL', `Copying ${from} ran out of disk space.`, { hint: 'Free space in the work directory or choose another with --work-dir.', details: tail(msg) });
    throw failure('COPY_FAILED', `Copying ${from} failed.`, { hint: 'Check that undrop can read every file of the source.', details: tail(msg) });
  }
}

/** cp -a of a folder's content (reflinks where possible); a clear error on failure. */
export async function copyInto(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  await cp([`${from}${sep}.`, to], from);
}

/** cp -a of some entries of a folder into another (batches: a pg_wal may hold thousands). */
async function copyEntries(from: string, names: readonly string[], to: string): Promise<void> {
  for (let i = 0; i < names.length; i += 500) await cp([...names.slice(i, i + 500).map((n) => join(from, n)), to], from);
}

/** A pg_wal folder's content, only the files `keep` names (and every folder: archive_status). */
export async function copyWalInto(from: string, to: string, keep: WalFilter): Promise<void> {
  await mkdir(to, { recursive: true, mode: (await lstat(from)).mode & 0o7777 });
  await copyEntries(from, (await readdir(from)).filter(keep), to);
}

/** Move when the folder is undrop's own staging, copy when it belongs to a source (a WAL folder: what `walKeep` names). */
async function bringInside(from: string, to: string, move: boolean, walKeep?: WalFilter): Promise<void> {
  if (move) {
    try {
      await rename(from, to);
      return;
    } catch {
      /* another filesystem: copy */
    }
  }
  await (walKeep ? copyWalInto(from, to, walKeep) : copyInto(from, to));
}

async function resolveLink(link: string, what: string): Promise<string> {
  const target = await readlink(link);
  try {
    return await realpath(link);
  } catch {
    throw failure('COPY_LINK_MISSING', `${what} is a symbolic link to ${target}, which does not exist here.`, {
      hint: 'Mount or copy what it points at (the WAL volume, the tablespace) next to the snapshot and point the link there, or restore from another source.',
    });
  }
}

/**
 * Copy `source` (a data directory, or a link to one) to `root/data`, with
 * pg_wal and tablespaces dereferenced into `root`. The source is only read.
 * `walKeep`: copy only these of pg_wal's files (a snapshot's crash recovery
 * reads no others).
 */
export async function copyDataDir(source: string, root: string, o: { walKeep?: WalFilter } = {}): Promise<CopyRecord> {
  const resolved = await realpath(source);
  const data = join(root, 'data');
  const wal = join(resolved, 'pg_wal');
  if (o.walKeep && (await lstat(wal).catch(() => undefined))?.isDirectory()) {
    await mkdir(data, { recursive: true, mode: (await lstat(resolved)).mode & 0o7777 });
    await copyEntries(resolved, (await readdir(resolved)).filter((e) => e !== 'pg_wal'), data);
    await copyWalInto(wal, join(data, 'pg_wal'), o.walKeep);
  } else await copyInto(resolved, data); // a pg_wal link is copied as a link, and followed below
  await absolutizeLinks(data, resolved);
  const rec = await internalizeLinks(data, root, { moveFrom: undefined, walKeep: o.walKeep });
  return { source, resolved, ...rec };
}

/**
 * A copied relative link (pg_wal → ../wal) would resolve next to the copy, not the source: point the
 * copy's pg_wal and pg_tblspc/<oid> links at what they named from `sourceDir` (the resolved source).
 */
export async function absolutizeLinks(data: string, sourceDir: string): Promise<void> {
  const tblspc = join(data, 'pg_tblspc');
  const links = ['pg_wal', ...(existsSync(tblspc) ? (await readdir(tblspc)).map((oid) => join('pg_tblspc', oid)) : [])];
  for (const rel of links) {
    const link = join(data, rel);
    if (!(await lstat(link).catch(() => undefined))?.isSymbolicLink()) continue;
    const target = await readlink(link);
    if (isAbsolute(target)) continue;
    await rm(link);
    await symlink(resolve(join(sourceDir, rel, '..'), target), link);
  }
}

/**
 * Replace pg_wal and tablespace links (and tablespace_map lines) that lead
 * outside `root` with copies inside it. Folders under `moveFrom` (undrop's
 * own staging) are moved rather than copied.
 */
export async function internalizeLinks(data: string, root: string, o: { moveFrom?: string; walKeep?: WalFilter }): Promise<Omit<CopyRecord, 'source' | 'resolved'>> {
  const out: Omit<CopyRecord, 'source' | 'resolved'> = { tablespaces: [] };
  const movable = (p: string) => !!o.moveFrom && inside(o.moveFrom, p);
  const wal = join(data, 'pg_wal');
  const walStat = await lstat(wal).catch(() => undefined);
  if (walStat?.isSymbolicLink()) {
    const target = await resolveLink(wal, `${data}/pg_wal`);
    if (!inside(root, target)) {
      await rm(wal);
      await bringInside(target, wal, movable(target), o.walKeep);
      out.walFrom = target;
    }
  }
  const tsRoot = join(root, 'tablespaces');
  const tblspc = join(data, 'pg_tblspc');
  for (const oid of existsSync(tblspc) ? await readdir(tblspc) : []) {
    const link = join(tblspc, oid);
    if (!(await lstat(link)).isSymbolicLink()) continue; // in-place tablespace: already inside
    const target = await resolveLink(link, `Tablespace link pg_tblspc/${oid}`);
    if (inside(root, target)) continue;
    const to = join(tsRoot, oid);
    await mkdir(tsRoot, { recursive: true });
    await bringInside(target, to, movable(target));
    await rm(link);
    await symlink(to, link);
    out.tablespaces.push({ oid, from: target, to });
  }
  // A backup's tablespace_map names where recovery will create pg_tblspc links: the originals.
  const map = join(data, 'tablespace_map');
  if (existsSync(map)) {
    const lines = (await readFile(map, 'utf8')).split('\n');
    const rewritten: string[] = [];
    for (const line of lines) {
      const m = /^(\d+) (.*)$/.exec(line);
      if (!m) {
        rewritten.push(line);
        continue;
      }
      const [, oid, path] = m as unknown as [string, string, string];
      const to = join(tsRoot, oid);
      if (inside(root, resolve(path))) {
        rewritten.push(line);
        continue;
      }
      // Only a copy undrop extracted (a tablespace tar) is used, never the original path.
      if (!movable(resolve(path)) || !existsSync(path)) {
        throw failure('COPY_TABLESPACE_MISSING', `The backup's tablespace_map names tablespace ${oid} at ${path}, and no copy of it came with the backup.`, {
          hint: 'A tar backup carries one <oid>.tar per tablespace: check that it is beside base.tar. undrop never starts a copy on the original tablespace.',
        });
      }
      await mkdir(tsRoot, { recursive: true });
      await bringInside(resolve(path), to, true);
      out.tablespaces.push({ oid, from: path, to });
      rewritten.push(`${oid} ${to}`);
    }
    await writeFile(map, rewritten.join('\n'));
  }
  return out;
}

export interface Escape {
  path: string;
  target: string;
}

/** Every symlink under `dir` that resolves outside `root` (or nowhere), and tablespace_map lines that do. */
export async function escapes(dir: string, root: string): Promise<Escape[]> {
  const found: Escape[] = [];
  const seen = new Set<string>();
  const walk = async (d: string): Promise<void> => {
    const real = await realpath(d);
    if (seen.has(real)) return; // a link back up the tree: walked once
    seen.add(real);
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isSymbolicLink()) {
        const target = await realpath(p).catch(() => undefined);
        if (!target || !inside(root, target)) found.push({ path: p, target: target ?? `${await readlink(p)} (missing)` });
        else if ((await lstat(target)).isDirectory()) await walk(target);
      } else if (e.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  const map = join(dir, 'tablespace_map');
  if (existsSync(map)) {
    for (const line of (await readFile(map, 'utf8')).split('\n')) {
      const m = /^(\d+) (.*)$/.exec(line);
      if (m && !inside(root, resolve(m[2]!))) found.push({ path: `${map} (tablespace ${m[1]})`, target: m[2]! });
    }
  }
  return found;
}

/** Refuse to start a server on a copy that still reaches outside its folder. */
export async function assertContained(dataDir: string, root: string): Promise<void> {
  const out = await escapes(dataDir, root);
  if (out.length) {
    throw failure('COPY_NOT_CONTAINED', `The copy in ${root} still reaches outside its folder; it was not started.`, {
      hint: 'A server started on it could write into what these point at (a source, production). Report this to the undrop maintainers with the list below.',
      details: out.slice(0, 10).map((x) => `${x.path} → ${x.target}`),
    });
  }
}
