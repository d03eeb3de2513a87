// Base backups in D/base/<stamp>-plain and D/base/<stamp>-tar (gzip), with
// manifests, taken with pg_basebackup through the replication role.
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PgBinaries } from '../postgres/binaries.js';
import type { TempInstance } from '../postgres/instance.js';
import { pgBasebackup } from '../postgres/lab-programs.js';
import { segmentForLsn } from '../postgres/wal/segments.js';
import { chownForServer } from '../postgres/os-user.js';
import { fileStamp, type LabLayout } from './layout.js';
import { REPLICATION_ROLE } from './primary.js';
import type { LabState } from './state.js';

export type BaseBackupInfo = LabState['baseBackups'][number];

/** Start and end LSN from backup_manifest's WAL-Ranges (present in both formats). */
export function manifestWalRange(manifestText: string): { startLsn: string; endLsn: string } | undefined {
  try {
    const doc = JSON.parse(manifestText) as { 'WAL-Ranges'?: { 'Start-LSN': string; 'End-LSN': string }[] };
    const ranges = doc['WAL-Ranges'];
    if (!ranges?.length) return undefined;
    return { startLsn: ranges[0]!['Start-LSN'], endLsn: ranges[ranges.length - 1]!['End-LSN'] };
  } catch {
    return undefined;
  }
}

export async function takeBaseBackup(bin: PgBinaries, layout: LabLayout, primary: TempInstance, format: 'plain' | 'tar'): Promise<BaseBackupInfo> {
  await mkdir(layout.base, { recursive: true });
  await chownForServer(layout.base, false);
  const takenAt = new Date();
  const dir = join(layout.base, `${fileStamp(takenAt)}-${format}`);
  const label = `undrop lab ${format} base backup`;
  await pgBasebackup(bin, { host: primary.socketDir, port: primary.port, user: REPLICATION_ROLE, dir, format, gzip: format === 'tar', label, noSync: true });
  const manifest = join(dir, 'backup_manifest');
  const range = existsSync(manifest) ? manifestWalRange(await readFile(manifest, 'utf8')) : undefined;
  return {
    path: dir,
    format,
    label,
    takenAt: takenAt.toISOString(),
    startLsn: range?.startLsn ?? null,
    endLsn: range?.endLsn ?? null,
    startWalFile: range ? segmentForLsn(1, range.startLsn) : null,
  };
}
