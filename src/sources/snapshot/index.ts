import type { SourceModule } from '../types.js';
import { materializeSnapshot } from './materialize.js';
import { probeSnapshot } from './probe.js';
import { snapshotScanStart } from './scan-start.js';

export const snapshotSource: SourceModule<'snapshot'> = {
  kind: 'snapshot',
  title: 'Filesystem snapshots of the data directory (SAN, LVM, ZFS, cloud volumes)',
  probe: probeSnapshot,
  materialize: materializeSnapshot,
  walScanStart: snapshotScanStart,
};
