import type { SourceModule } from '../types.js';
import { materializeBarman } from './materialize.js';
import { probeBarman } from './probe.js';
import { barmanBaseBackups, barmanWal } from './wal.js';

export const barmanSource: SourceModule<'barman'> = {
  kind: 'barman',
  title: 'A Barman server: backups plus the WAL Barman received',
  probe: probeBarman,
  materialize: materializeBarman,
  wal: barmanWal,
  baseBackups: barmanBaseBackups,
};
