// "Filesystem snapshots" in D/snapshots/<stamp>/pgdata: a crash-consistent
// copy of the running primary, as a SAN or LVM snapshot would give. Honest
// simulation: the primary is stopped with -m immediate (a crash), its data
// directory copied, and started again (a few seconds of downtime).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { PgBinaries } from '../postgres/binaries.js';
import { copyTree, type TempInstance } from '../postgres/instance.js';
import { pgCtlStop } from '../postgres/programs.js';
import { LAB_DATABASE, LOST_TABLES } from './dataset.js';
import { fileStamp, type LabLayout } from './layout.js';
import type { LabState } from './state.js';
import { tablesChecksums } from './truth.js';

export type SnapshotInfo = LabState['snapshots'][number];

export async function takeSnapshot(bin: PgBinaries, layout: LabLayout, primary: TempInstance): Promise<SnapshotInfo> {
  // A checkpoint first keeps the copy's crash recovery (and the primary's restart) short.
  await primary.query('CHECKPOINT');
  const client = await primary.connect(LAB_DATABASE);
  let tables;
  let lsn: string;
  try {
    // Writers wait on this lock until the crash, so what is counted here is
    // exactly what the snapshot holds (commits are durable: synchronous_commit on).
    await client.query('BEGIN');
    await client.query(`LOCK TABLE ${LOST_TABLES.join(', ')} IN SHARE MODE`);
    tables = await tablesChecksums(client, LOST_TABLES, { inTransaction: true });
    lsn = (await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
    const r = await pgCtlStop(bin, primary.dataDir, 'immediate', 60);
    if (r.exitCode !== 0) throw new Error(`pg_ctl stop -m immediate failed: ${r.stderr.trim()}`);
  } finally {
    await client.end().catch(() => {});
  }
  const takenAt = new Date();
  const dir = join(layout.snapshots, fileStamp(takenAt));
  await mkdir(dir, { recursive: true });
  const pgdata = join(dir, 'pgdata');
  try {
    await copyTree(primary.dataDir, pgdata);
  } finally {
    await primary.start(300);
  }
  return { path: pgdata, takenAt: takenAt.toISOString(), lsn, tables };
}
