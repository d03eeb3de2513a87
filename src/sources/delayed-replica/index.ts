import type { SourceModule } from '../types.js';
import { freezeReplica } from './freeze.js';
import { materializeReplica } from './materialize.js';
import { probeDelayedReplica } from './probe.js';
import { replicaScanStart } from './scan-start.js';
import { replicaWal } from './wal.js';

export const delayedReplicaSource: SourceModule<'delayed-replica'> = {
  kind: 'delayed-replica',
  title: 'A streaming standby with recovery_min_apply_delay',
  probe: probeDelayedReplica,
  materialize: materializeReplica,
  freeze: freezeReplica,
  wal: replicaWal,
  walScanStart: replicaScanStart,
};
