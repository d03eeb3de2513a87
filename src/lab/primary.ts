// The lab's production primary: a kept TempInstance with data checksums,
// wal_level replica, WAL archiving to D/archive (never overwriting, never a
// half-written segment), a replication role, Unix socket only unless --tcp.
import { mkdir } from 'node:fs/promises';
import type { PgBinaries } from '../postgres/binaries.js';
import { TempInstance } from '../postgres/instance.js';
import { chownForServer } from '../postgres/os-user.js';
import { archiveCommand } from './layout.js';
import type { LabLayout } from './layout.js';

export const REPLICATION_ROLE = 'replicator';
export const LAB_SUPERUSER = 'postgres';

export async function createPrimary(bin: PgBinaries, layout: LabLayout, o: { socketDir: string; tcp: boolean; archive: boolean }): Promise<TempInstance> {
  if (o.archive) {
    await mkdir(layout.archive, { recursive: true });
    await chownForServer(layout.archive);
  }
  const inst = await TempInstance.create({
    bin,
    workDir: layout.dir,
    root: layout.primaryRoot,
    name: 'lab-primary',
    socketDir: o.socketDir,
    tcp: o.tcp,
    keep: true,
    dataChecksums: true,
    superuser: LAB_SUPERUSER,
    settings: {
      cluster_name: 'lab-primary',
      wal_level: 'replica',
      archive_mode: o.archive ? 'on' : 'off',
      archive_command: o.archive ? archiveCommand(layout.archive) : '',
      // A quiet lab still archives a segment every few minutes, like production.
      archive_timeout: '5min',
      max_wal_senders: 10,
      max_replication_slots: 10,
      hot_standby: 'on',
      track_commit_timestamp: 'on',
      log_checkpoints: 'on',
      log_line_prefix: '%m [%p] %q%u@%d ',
      shared_buffers: '128MB',
      max_wal_size: '1GB',
    },
  });
  await inst.start(120);
  await inst.query(`CREATE ROLE ${REPLICATION_ROLE} WITH REPLICATION LOGIN`);
  return inst;
}

