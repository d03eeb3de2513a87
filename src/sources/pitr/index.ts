import type { SourceModule } from '../types.js';
import { pitrBaseBackups, pitrWal } from './wal.js';
import { materializePitr } from './materialize.js';
import { probePitr } from './probe.js';

export const pitrSource: SourceModule<'pitr'> = {
  kind: 'pitr',
  title: 'Base backups plus archived WAL (point-in-time recovery)',
  probe: probePitr,
  materialize: materializePitr,
  wal: pitrWal,
  baseBackups: pitrBaseBackups,
};
