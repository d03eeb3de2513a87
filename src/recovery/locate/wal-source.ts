// Where locate reads WAL from: a folder of segments (a WAL archive, a data
// directory's pg_wal), or segments fetched one by one with a restore_command
// or pgBackRest archive-get into a private temp folder.
import { existsSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { failure, usageError } from '../../errors.js';
import type { Inventory, SourceConfig } from '../../inventory/schema.js';
import { Lsn } from '../../postgres/wal/lsn.js';
import { parseSegmentName, segmentForLsn, segmentName } from '../../postgres/wal/segments.js';
import { execClean } from '../../postgres/run.js';
import { makeStage, removeStage } from '../../postgres/work-dir.js';

export interface WalLocation {
  /** What to call it in messages: "wal (WAL archive /backups/wal)". */
  label: string;
  kind: 'dir' | 'restore-command' | 'pgbackrest';
  /** The folder pg_waldump reads (for fetched WAL: the private temp folder). */
  dir: string;
  /** restore_command (with %f and %p) that gets one segment; for a PITR copy of a base backup as well. */
  restoreCommand?: string;
  /** The inventory source it came from. */
  source?: SourceConfig;
  /** Folder of base backups (pitr sources). */
  baseBackups?: string;
  /** Remove fetched segments. */
  release(): Promise<void>;
}

export interface BaseBackupInfo {
  path: string;
  startLsn: string;
  startTime?: string;
  timeline: number;
  format: 'plain' | 'tar';
}

/** backup_label text → start LSN, time and timeline. */
export function parseBackupLabel(text: string): { startLsn?: string; startTime?: string; timeline?: number } {
  const lsn = /START WAL LOCATION: ([0-9A-Fa-f]+\/[0-9A-Fa-f]+)/.exec(text)?.[1];
  const time = /START TIME: (.+)/.exec(text)?.[1]?.trim();
  const tli = /START TIMELINE: (\d+)/.exec(text)?.[1];
  return { startLsn: lsn, startTime: time, timeline: tli ? Number(tli) : undefined };
}

/** Base backups in a folder (one per subfolder, plain or tar), newest start first. */
export async function listBaseBackups(dir: string): Promise<BaseBackupInfo[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: BaseBackupInfo[] = [];
  for (const n of names) {
    const p = join(dir, n);
    try {
      if (!(await stat(p)).isDirectory()) continue;
    } catch {
      continue;
    }
    let text: string | undefined;
    let format: 'plain' | 'tar' = 'plain';
    if (existsSync(join(p, 'backup_label'))) text = await readFile(join(p, 'backup_label'), 'utf8').catch(() => undefined);
    else {
      const tarName = ['base.tar.gz', 'base.tar', 'base.tar.lz4', 'base.tar.zst'].find((t) => existsSync(join(p, t)));
      if (tarName && !tarName.endsWith('lz4') && !tarName.endsWith('zst')) {
        format = 'tar';
        const r = await execClean('tar', [tarName.endsWith('.gz') ? '-xzOf' : '-xOf', join(p, tarName), 'backup_label'], { reject: false, timeout: 120_000 });
        if (r.exitCode === 0) text = String(r.stdout);
      }
    }
    if (!text) continue;
    const l = parseBackupLabel(text);
    if (!l.startLsn) continue;
    out.push({ path: p, startLsn: l.startLsn, startTime: l.startTime, timeline: l.timeline ?? 1, format });
  }
  return out.sort((a, b) => Lsn.compare(b.startLsn, a.startLsn));
}

export interface WalSourceRequest {
  inventory?: Inventory;
  /** --wal-dir: a folder of segments (archive or pg_wal). */
  walDir?: string;
  /** --source NAME: which inventory source to read WAL from. */
  source?: string;
  workDir: string;
  /** Where to begin fetching with a restore_command (a segment name); the newest base backup's start by default. */
  fetchFrom?: string;
  onProgress?: (msg: string) => void;
}

const noop = async () => {};

function hasWal(s: SourceConfig): boolean {
  return s.kind === 'pitr' || s.kind === 'pgbackrest' || (s.kind === 'delayed-replica' && !!s.data_dir);
}

/** Pick and prepare the WAL to read. */
export async function openWalSource(req: WalSourceRequest): Promise<WalLocation> {
  if (req.walDir) {
    const dir = resolve(req.walDir);
    return { label: `folder ${dir}`, kind: 'dir', dir: await walFolder(dir), restoreCommand: `cp "${await walFolder(dir)}/%f" "%p"`, release: noop };
  }
  const sources = req.inventory?.sources ?? [];
  let chosen: SourceConfig | undefined;
  if (req.source) {
    chosen = sources.find((s) => s.name === req.source);
    if (!chosen) throw usageError('SOURCE_UNKNOWN', `No source named "${req.source}" in ${req.inventory?.file ?? 'the inventory'}.`, `Sources: ${sources.map((s) => s.name).join(', ') || '(none)'}.`);
    if (!hasWal(chosen)) throw usageError('SOURCE_HAS_NO_WAL', `Source "${chosen.name}" (${chosen.kind}) has no WAL to read.`, 'Choose a pitr or pgbackrest source, a delayed replica with data_dir, or pass --wal-dir.');
  } else {
    const rank = (s: SourceConfig) => (s.kind === 'pitr' && s.wal_archive ? 0 : s.kind === 'pitr' ? 1 : s.kind === 'pgbackrest' ? 2 : 3);
    chosen = sources.filter(hasWal).sort((a, b) => rank(a) - rank(b))[0];
  }
  if (!chosen) {
    throw usageError(
      'NO_WAL_SOURCE',
      'locate needs WAL, and the inventory names no source that has it.',
      'Add a pitr source with wal_archive or restore_command (or a pgbackrest stanza) to undrop.yaml, or pass --wal-dir DIR (a WAL archive or a pg_wal folder).',
    );
  }
  switch (chosen.kind) {
    case 'pitr':
      if (chosen.wal_archive) {
        const dir = await walFolder(chosen.wal_archive);
        return { label: `${chosen.name} (WAL archive ${dir})`, kind: 'dir', dir, restoreCommand: chosen.restore_command ?? `cp "${dir}/%f" "%p"`, source: chosen, baseBackups: chosen.base_backups, release: noop };
      }
      return fetchWithCommand(req, chosen, chosen.restore_command!, `${chosen.name} (restore_command)`, 'restore-command', chosen.base_backups);
    case 'pgbackrest': {
      const cmd = ['pgbackrest', `--stanza=${chosen.stanza}`, chosen.config ? `--config=${chosen.config}` : '', chosen.repo ? `--repo=${chosen.repo}` : '', 'archive-get', '%f', '"%p"'].filter(Boolean).join(' ');
      return fetchWithCommand(req, chosen, cmd, `${chosen.name} (pgBackRest stanza ${chosen.stanza})`, 'pgbackrest');
    }
    case 'delayed-replica': {
      const dir = await walFolder(join(chosen.data_dir!, 'pg_wal'));
      return { label: `${chosen.name} (pg_wal of ${chosen.data_dir})`, kind: 'dir', dir, source: chosen, release: noop };
    }
    default:
      throw usageError('SOURCE_HAS_NO_WAL', `Source "${chosen.name}" (${chosen.kind}) has no WAL to read.`);
  }
}

async function walFolder(dir: string): Promise<string> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a folder');
  } catch {
    throw usageError('WAL_DIR_MISSING', `${dir}: no such folder.`, 'Point at the WAL archive folder (or a data directory\'s pg_wal).');
  }
  // A data directory: read its pg_wal.
  if (existsSync(join(dir, 'PG_VERSION')) && existsSync(join(dir, 'pg_wal'))) return join(dir, 'pg_wal');
  return dir;
}

/** Run a restore_command for one segment; true when the file arrived. */
export async function fetchSegment(command: string, name: string, dest: string): Promise<boolean> {
  const target = join(dest, name);
  const cmd = command.replace(/%f/g, name).replace(/%p/g, target).replace(/%r/g, '000000010000000000000001').replace(/%%/g, '%');
  // The user's restore_command, with a clean environment like every child (run.ts).
  const r = await execClean('sh', ['-c', cmd], { reject: false, timeout: 300_000, cwd: dest });
  return r.exitCode === 0 && existsSync(target);
}

async function fetchWithCommand(req: WalSourceRequest, src: SourceConfig, command: string, label: string, kind: 'restore-command' | 'pgbackrest', baseBackups?: string): Promise<WalLocation> {
  const dir = await makeStage(req.workDir, 'locate-wal');
  const release = async () => removeStage(dir);
  try {
    let first = req.fetchFrom;
    let last: string | undefined;
    if (kind === 'pgbackrest') {
      const info = await pgbackrestArchiveRange(src);
      first ??= info?.min;
      last = info?.max;
    }
    if (!first && baseBackups) {
      const b = (await listBaseBackups(baseBackups))[0];
      if (b) first = segmentForLsn(b.timeline, b.startLsn);
    }
    if (!first) {
      throw usageError('WAL_RANGE_UNKNOWN', `Cannot tell where the WAL of ${label} begins.`, 'Pass --since with an LSN (--since 0/9000028), or fetch the WAL into a folder and pass --wal-dir.');
    }
    const start = parseSegmentName(first);
    let fetched = 0;
    let misses = 0;
    for (let segno = start.segno; ; segno++) {
      const name = segmentName(start.timeline, segno);
      if (last && name > last) break;
      req.onProgress?.(`fetching ${name} with ${kind === 'pgbackrest' ? 'pgbackrest archive-get' : 'restore_command'}`);
      if (await fetchSegment(command, name, dir)) {
        fetched++;
        misses = 0;
      } else if (last) {
        misses++; // a gap: keep going until the archive's last segment
      } else break;
    }
    if (fetched === 0) {
      throw failure('WAL_FETCH_FAILED', `${label}: could not fetch ${first}.`, { hint: `Run the command by hand to see why: ${command.replace(/%f/g, first).replace(/%p/g, `/tmp/${first}`)}` });
    }
    return { label, kind, dir, restoreCommand: command, source: src, baseBackups, release };
  } catch (e) {
    await release();
    throw e;
  }
}

async function pgbackrestArchiveRange(src: SourceConfig): Promise<{ min?: string; max?: string } | undefined> {
  if (src.kind !== 'pgbackrest') return undefined;
  const args = [`--stanza=${src.stanza}`, ...(src.config ? [`--config=${src.config}`] : []), '--output=json', 'info'];
  const r = await execClean('pgbackrest', args, { reject: false, timeout: 60_000 });
  if (r.exitCode !== 0) {
    if ((r as { code?: string }).code === 'ENOENT') throw usageError('PGBACKREST_MISSING', 'pgbackrest is not installed here.', 'Install pgBackRest, or fetch the WAL into a folder and pass --wal-dir.');
    return undefined;
  }
  try {
    const doc = JSON.parse(String(r.stdout)) as { archive?: { min?: string; max?: string }[] }[];
    const a = doc[0]?.archive?.[0];
    return { min: a?.min ?? undefined, max: a?.max ?? undefined };
  } catch {
    return undefined;
  }
}

