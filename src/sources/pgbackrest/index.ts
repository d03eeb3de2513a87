import type { SourceModule } from '../types.js';
import { pgbackrestWal } from './wal.js';
import { materializePgbackrest } from './materialize.js';
import { probePgbackrest } from './probe.js';

export const pgbackrestSource: SourceModule<'pgbackrest'> = {
  kind: 'pgbackrest',
  title: 'A pgBackRest repository (stanza): backups plus archived WAL',
  probe: probePgbackrest,
  materialize: materializePgbackrest,
  wal: pgbackrestWal,
};
