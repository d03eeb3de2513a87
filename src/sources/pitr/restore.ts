// Base backups for restore: list them with their start/end, choose the newest
// that ends before the target, and lay one out as a data directory in the
// work folder (plain: copied; tar/tar.gz: extracted with its tablespace
// tars; backup_label kept). A backups folder reached through a link
// (base/latest → …) is resolved when the data directory is copied.
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { failure } from '../../errors.js';
import { chownForServer } from '../../postgres/os-user.js';
import { Lsn } from '../../postgres/wal/lsn.js';
import { tail } from '../../postgres/run.js';
import { makeStage, removeStage } from '../../postgres/work-dir.js';
import type { ResolvedTarget } from '../target.js';
import { parseBackupLabel } from './backup-label.js';
import { labelFromTar } from './backups.js';
import { withRestoreProgress } from '../materialize/restore-progress.js';
import { manifestEndLsn, parseManifest } from './manifest.js';
import { extractTar } from './tar-extract.js';

export interface BaseBackup {
  path: string;
  format: 'plain' | 'tar';
  /** base.tar or base.tar.gz, for tar backups. */
  baseTar?: string;
  walTar?: string;
  startLsn: string;
  endLsn: string | null;
  startTime: string | null;
  timeline: number;
  sizeBytes: number;
}

async function describeBackup(path: string): Promise<BaseBackup | undefined> {
  const entries = await readdir(path).catch(() => [] as string[]);
  const baseTar = entries.find((e) => /^base\.tar(\.gz)?$/.test(e));
  let labelText: string | undefined;
  if (entries.includes('backup_label')) labelText = await readFile(join(path, 'backup_label'), 'utf8');
  else if (baseTar) labelText = (await labelFromTar(join(path, baseTar), 10 * 60_000)).text ?? undefined;
  if (!labelText) return undefined;
  const label = parseBackupLabel(labelText);
  if (!label.startLsn) return undefined;
  let endLsn: string | null = null;
  if (entries.includes('backup_manifest')) endLsn = manifestEndLsn(parseManifest(await readFile(join(path, 'backup_manifest'), 'utf8')));
  let sizeBytes = 0;
  for (const e of entries) sizeBytes += (await stat(join(path, e)).catch(() => ({ size: 0 }))).size;
  return {
    path,
    format: baseTar ? 'tar' : 'plain',
    baseTar: baseTar ? join(path, baseTar) : undefined,
    walTar: entries.find((e) => /^pg_wal\.tar(\.gz)?$/.test(e)) ? join(path, entries.find((e) => /^pg_wal\.tar(\.gz)?$/.test(e))!) : undefined,
    startLsn: label.startLsn,
    endLsn,
    startTime: label.startTime,
    timeline: label.startTimeline ?? 1,
    sizeBytes,
  };
}

export async function listBaseBackups(dir: string): Promise<BaseBackup[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: BaseBackup[] = [];
  for (const n of names) {
    const p = join(dir, n);
    if (!(await stat(p).catch(() => undefined))?.isDirectory()) continue;
    const b = await describeBackup(p);
    if (b) out.push(b);
  }
  return out.sort((a, b) => Lsn.compare(b.startLsn, a.startLsn));
}

/** The newest backup whose end lies before the target (a target before a backup's end is unreachable from it). */
export function chooseBackup(backups: readonly BaseBackup[], target: ResolvedTarget): BaseBackup | undefined {
  const limitLsn = target.firstLsn ?? target.commitLsn;
  return backups.find((b) => {
    const end = b.endLsn ?? b.startLsn;
    if (limitLsn) return Lsn.compare(end, limitLsn) < 0;
    if (target.time && b.startTime) return Date.parse(b.startTime) < Date.parse(target.time);
    return true;
  });
}

/**
 * Extract a tar-format backup into a new staging folder in the work
 * directory; returns the data directory. Each tablespace tar (<oid>.tar[.gz])
 * goes to <stage>/tablespaces/<oid> and tablespace_map is rewritten to it, so
 * recovery never creates a link to the original tablespace path.
 * `exclude`: tar options applied to base.tar only (selective restore).
 */
export async function extractTarBackup(b: BaseBackup, workDir: string, o: { exclude?: string[]; beforeChown?: (dataDir: string) => Promise<void>; onProgress?: (m: string) => void } = {}): Promise<string> {
  const stage = await makeStage(workDir, 'extract');
  const data = join(stage, 'data');
  await mkdir(join(data, 'pg_wal'), { recursive: true });
  try {
    const tablespaceTars = (await readdir(b.path)).filter((e) => /^\d+\.tar(\.gz)?$/.test(e));
    const jobs: [string, string][] = [[b.baseTar!, data]];
    if (b.walTar) jobs.push([b.walTar, join(data, 'pg_wal')]);
    for (const t of tablespaceTars) jobs.push([join(b.path, t), join(stage, 'tablespaces', t.replace(/\.tar(\.gz)?$/, ''))]);
    const archived = (await Promise.all(jobs.map(([f]) => stat(f).then((x) => x.size)))).reduce((a, n) => a + n, 0);
    // Uncompressed tars extract to about their own size; gzip ones grow past it (then bytes and rate only).
    const total = jobs.some(([f]) => f.endsWith('.gz')) ? null : archived;
    for (const [file, into] of jobs) {
      await mkdir(into, { recursive: true });
      const r = await withRestoreProgress(stage, `extracting ${basename(file)}`, total, o.onProgress, () => extractTar(file, into, file === b.baseTar ? (o.exclude ?? []) : []));
      if (!r.ok) throw failure('BACKUP_EXTRACT_FAILED', `Extracting ${file} failed.`, { hint: 'The archive may be truncated; check it with tar -tzf.', details: tail(r.error) });
    }
    if (!existsSync(join(data, 'PG_VERSION'))) throw failure('BACKUP_EXTRACT_FAILED', `${b.baseTar} did not contain a data directory.`);
    await rewriteTablespaceMap(data, join(stage, 'tablespaces'));
    if (o.beforeChown) await o.beforeChown(data);
    await chownForServer(stage);
  } catch (e) {
    removeStage(stage);
    throw e;
  }
  return data;
}

/** tablespace_map lines point at the extracted copies (a tablespace with no tar is refused later, never used in place). */
async function rewriteTablespaceMap(data: string, tablespaces: string): Promise<void> {
  const map = join(data, 'tablespace_map');
  if (!existsSync(map)) return;
  const text = await readFile(map, 'utf8');
  const out = text.split('\n').map((line) => {
    const m = /^(\d+) /.exec(line);
    return m && existsSync(join(tablespaces, m[1]!)) ? `${m[1]} ${join(tablespaces, m[1]!)}` : line;
  });
  await writeFile(map, out.join('\n'));
}
