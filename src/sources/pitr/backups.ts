// Base backups in a folder: plain (backup_label on disk) or tar (base.tar,
// base.tar.gz, with backup_manifest beside). Read-only: backup_label comes
// out of a tar with `tar -xO --occurrence=1`, which stops at the first match.
import { existsSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isSegmentName } from '../../postgres/wal/segments.js';
import { runProgram } from '../../postgres/run.js';
import { memoizeAsync } from '../../util/memo.js';
import { fsErrorText, readHead, readTail } from '../common/files.js';
import { type BackupLabel, isValidLabel, parseBackupLabel } from './backup-label.js';
import { type ManifestInfo, parseManifestParts } from './manifest.js';

export type BackupFormat = 'plain' | 'tar';

export interface BaseBackup {
  dir: string;
  name: string;
  format: BackupFormat;
  label: BackupLabel | null;
  manifest: ManifestInfo | null;
  /** base.tar(.gz) and pg_wal.tar(.gz) for tar backups. */
  tarFiles: string[];
  /** WAL segment names the backup carries itself (plain pg_wal/). */
  ownWal: Set<string>;
  /** True when a tar backup ships pg_wal.tar(.gz) (its own WAL range). */
  hasWalTar: boolean;
  pgVersion: number | null;
  sizeBytes: number | null;
  /** Why this folder is not a usable base backup, when it is not. */
  problem: { code: string; message: string; hint: string } | null;
}

const TAR_NAMES = ['base.tar', 'base.tar.gz', 'base.tgz', 'base.tar.lz4', 'base.tar.zst'];

/** The folders to look at: base_backups itself when it is one backup, else its subfolders. */
export async function backupDirs(root: string): Promise<string[]> {
  if (existsSync(join(root, 'backup_label')) || TAR_NAMES.some((n) => existsSync(join(root, n)))) return [root];
  const out: string[] = [];
  for (const n of (await readdir(root, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    // A link to a backup folder (base/latest → 2026-…) counts: it is read through, never written.
    const isDir = n.isDirectory() || (n.isSymbolicLink() && (await stat(join(root, n.name)).catch(() => undefined))?.isDirectory());
    if (isDir && !n.name.startsWith('.')) out.push(join(root, n.name));
  }
  return out;
}

async function readManifest(path: string): Promise<ManifestInfo | null> {
  try {
    const s = await stat(path);
    const head = (await readHead(path, 4096)).toString('utf8');
    const tail = (await readTail(path, 65536, s.size)).toString('utf8');
    return parseManifestParts(head, tail);
  } catch {
    return null;
  }
}

/** backup_label out of a base.tar[.gz], read once per process and archive version (probe and materialize both ask). */
export async function labelFromTar(tarFile: string, timeoutMs: number): Promise<{ text: string | null; error: string | null }> {
  const st = await stat(tarFile).catch(() => undefined);
  return st ? tarLabel(tarFile, `${st.size}:${st.mtimeMs}`, timeoutMs) : readTarLabel(tarFile, timeoutMs);
}

const tarLabel = memoizeAsync(
  (tarFile: string, _version: string, timeoutMs: number) => readTarLabel(tarFile, timeoutMs),
  (tarFile, version) => `${tarFile}\0${version}`,
);

async function readTarLabel(tarFile: string, timeoutMs: number): Promise<{ text: string | null; error: string | null }> {
  const r = await runProgram('tar', ['-xOf', tarFile, '--occurrence=1', 'backup_label'], { allowFailure: true, timeoutMs });
  if (r.exitCode === 0 && r.stdout.length > 0) return { text: r.stdout, error: null };
  return { text: null, error: (r.stderr.split('\n').find((l) => l.trim()) ?? `tar exited ${r.exitCode}`).trim() };
}

export async function readBaseBackup(dir: string, timeoutMs: number): Promise<BaseBackup> {
  const name = dir.split('/').filter(Boolean).pop() ?? dir;
  const b: BaseBackup = { dir, name, format: 'plain', label: null, manifest: null, tarFiles: [], ownWal: new Set(), hasWalTar: false, pgVersion: null, sizeBytes: null, problem: null };
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (e) {
    b.problem = { code: 'FILE_UNREADABLE', message: `Cannot read the folder: ${fsErrorText(e)}.`, hint: 'undrop needs read access to the base backups.' };
    return b;
  }
  const tar = TAR_NAMES.find((n) => entries.includes(n));
  if (entries.includes('backup_label')) {
    b.format = 'plain';
    try {
      b.label = parseBackupLabel(await readFile(join(dir, 'backup_label'), 'utf8'));
    } catch (e) {
      b.problem = { code: 'FILE_UNREADABLE', message: `Cannot read backup_label: ${fsErrorText(e)}.`, hint: 'Check the backup\'s file permissions.' };
      return b;
    }
    try {
      b.pgVersion = parseInt((await readFile(join(dir, 'PG_VERSION'), 'utf8')).trim(), 10) || null;
    } catch {
      /* reported by verification */
    }
    try {
      for (const n of await readdir(join(dir, 'pg_wal'))) if (isSegmentName(n)) b.ownWal.add(n);
    } catch {
      /* no pg_wal: WAL must come from the archive */
    }
  } else if (tar) {
    b.format = 'tar';
    b.tarFiles = entries.filter((n) => /^(base|pg_wal|\d+)\.tar(\.(gz|lz4|zst))?$|^base\.tgz$/.test(n)).map((n) => join(dir, n));
    b.hasWalTar = entries.some((n) => /^pg_wal\.tar/.test(n));
    let size = 0;
    for (const f of b.tarFiles) size += (await stat(f)).size;
    b.sizeBytes = size;
    const r = await labelFromTar(join(dir, tar), timeoutMs);
    if (!r.text) {
      b.problem = { code: 'BACKUP_LABEL_MISSING', message: `${tar} has no readable backup_label (${r.error}).`, hint: 'The tar file is damaged or not a pg_basebackup output; use another backup.' };
      return b;
    }
    b.label = parseBackupLabel(r.text);
  } else {
    const dataDir = entries.includes('PG_VERSION');
    b.problem = dataDir
      ? {
          code: 'NOT_A_BASE_BACKUP',
          message: 'A data directory without backup_label: not a base backup (if its backup_label was deleted, restoring it would give a silently corrupt cluster).',
          hint: 'Use pg_basebackup output; a copied data directory belongs in a snapshot source.',
        }
      : { code: 'NOT_A_BASE_BACKUP', message: 'Not a base backup: no backup_label and no base.tar(.gz).', hint: 'Each folder under base_backups must be one pg_basebackup output (plain or tar).' };
    return b;
  }
  if (!isValidLabel(b.label)) {
    b.problem = { code: 'BACKUP_LABEL_INVALID', message: 'backup_label does not name a start WAL location and checkpoint.', hint: 'The backup is damaged; use another one.' };
    return b;
  }
  if (entries.includes('backup_manifest')) b.manifest = await readManifest(join(dir, 'backup_manifest'));
  return b;
}
