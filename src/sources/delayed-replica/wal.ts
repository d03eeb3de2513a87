// A delayed replica's WAL, for locate: its pg_wal, when the inventory names
// its data directory on this machine (read-only).
import { join } from 'node:path';
import type { SourceConfigOf } from '../../inventory/schema.js';
import type { WalAccess } from '../types.js';

export async function replicaWal(config: SourceConfigOf<'delayed-replica'>): Promise<WalAccess | null> {
  if (!config.data_dir) return null;
  return { label: `${config.name} (pg_wal of ${config.data_dir})`, via: 'dir', dir: join(config.data_dir, 'pg_wal') };
}
