// The delayed replica: pg_basebackup -R -C -S from the primary, adopted as a
// kept TempInstance (standby.signal, its own port in the lab's socket dir,
// archive_mode off), streaming through the slot with recovery_min_apply_delay.
import type { PgBinaries } from '../postgres/binaries.js';
import { TempInstance } from '../postgres/instance.js';
import { pgBasebackup } from '../postgres/lab-programs.js';
import { chownForServer } from '../postgres/os-user.js';
import type { LabLayout } from './layout.js';
import { REPLICATION_ROLE } from './primary.js';

export const REPLICA_SLOT = 'lab_delayed';

export async function createReplica(bin: PgBinaries, layout: LabLayout, primary: TempInstance, o: { delayMs: number; tcp: boolean }): Promise<TempInstance> {
  await chownForServer(layout.dir, false);
  await pgBasebackup(bin, {
    host: primary.socketDir,
    port: primary.port,
    user: REPLICATION_ROLE,
    dir: layout.replicaIncoming,
    format: 'plain',
    writeRecoveryConf: true,
    createSlot: REPLICA_SLOT,
    noSync: true,
  });
  const replica = await TempInstance.fromDataDir(layout.replicaIncoming, {
    bin,
    workDir: layout.dir,
    root: layout.replicaRoot,
    name: 'lab-replica',
    socketDir: primary.socketDir,
    tcp: o.tcp,
    keep: true,
    copy: false,
    recovery: 'standby',
    settings: {
      cluster_name: 'lab-replica',
      hot_standby: 'on',
      hot_standby_feedback: 'off',
      max_standby_streaming_delay: '30s',
      recovery_min_apply_delay: `${o.delayMs}ms`,
      primary_conninfo: `host=${primary.socketDir} port=${primary.port} user=${REPLICATION_ROLE} application_name=lab-replica`,
      primary_slot_name: REPLICA_SLOT,
    },
  });
  await replica.start(120);
  return replica;
}
