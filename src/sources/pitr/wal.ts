// What locate reads from a PITR source: its WAL archive (a folder, or only a
// restore_command) and its base backups, laid out for a catalog copy.
import { dirname } from 'node:path';
import type { SourceConfigOf } from '../../inventory/schema.js';
import { removeStage } from '../../postgres/work-dir.js';
import type { BaseBackupRef, WalAccess } from '../types.js';
import { restoreCommandFor } from './materialize.js';
import { extractTarBackup, listBaseBackups } from './restore.js';

export async function pitrWal(config: SourceConfigOf<'pitr'>): Promise<WalAccess> {
  if (config.wal_archive) return { label: `${config.name} (WAL archive ${config.wal_archive})`, via: 'dir', dir: config.wal_archive, restoreCommand: restoreCommandFor(config) };
  return { label: `${config.name} (restore_command)`, via: 'restore-command', restoreCommand: restoreCommandFor(config) };
}

export async function pitrBaseBackups(config: SourceConfigOf<'pitr'>): Promise<BaseBackupRef[]> {
  return (await listBaseBackups(config.base_backups)).map((b) => ({
    path: b.path,
    format: b.format,
    startLsn: b.startLsn,
    startTime: b.startTime,
    timeline: b.timeline,
    async layout(workDir: string) {
      if (b.format === 'plain') return { dataDir: b.path, copy: true, release: async () => {} };
      const dataDir = await extractTarBackup(b, workDir);
      return { dataDir, copy: false, release: async () => removeStage(dirname(dataDir)) };
    },
  }));
}
