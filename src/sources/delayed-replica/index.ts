import type { SourceModule } from '../types.js';
import { materializeReplica } from './materialize.js';
import { probeDelayedReplica } from './probe.js';

export const delayedReplicaSource: SourceModule<'delayed-replica'> = {
  kind: 'delayed-replica',
  title: 'A streaming standby with recovery_min_apply_delay',
  probe: probeDelayedReplica,
  materialize: materializeReplica,
};
