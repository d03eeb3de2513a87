// PITR → temporary instance: restore the newest base backup that ends before
// the target, replay archived WAL to just before the destructive transaction
// (recovery_target_xid, exclusive), promote, and prove the tables are there.
// A target is always set: without one a missing segment is silent data loss.
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { failure } from '../../errors.js';
import type { SourceConfigOf } from '../../inventory/schema.js';
import { dataDirMajor, findBinaries } from '../../postgres/binaries.js';
import { TempInstance } from '../../postgres/instance.js';
import { startRecovery, waitForPromotion } from '../../postgres/recovery-watch.js';
import type { ResolvedTarget } from '../../recovery/target.js';
import { shellQuote } from '../../util/redact.js';
import { assertDiskSpace, verifyTables } from '../materialize/preflight.js';
import type { Materialized, MaterializeRequest, ProbeResult } from '../types.js';
import { chooseBackup, extractTarBackup, listBaseBackups } from './restore.js';

export function restoreCommandFor(config: { wal_archive?: string; restore_command?: string }): string {
  if (config.restore_command) return config.restore_command;
  return `cp ${shellQuote(`${config.wal_archive}`)}/%f "%p"`;
}

/** recovery_target_* settings for an exact, exclusive target. */
export function targetSettings(t: ResolvedTarget): Record<string, string | boolean> {
  const base = { recovery_target_inclusive: false, recovery_target_action: 'promote', recovery_target_timeline: 'latest' };
  if (t.xid) return { ...base, recovery_target_xid: t.xid };
  if (t.commitLsn) return { ...base, recovery_target_lsn: t.commitLsn };
  if (t.time) return { ...base, recovery_target_time: t.time };
  return { recovery_target_action: 'promote', recovery_target_timeline: 'latest' };
}

export async function materializePitr(config: SourceConfigOf<'pitr'>, req: MaterializeRequest, _probe: ProbeResult): Promise<Materialized> {
  const progress = req.onProgress ?? (() => {});
  const backups = await listBaseBackups(config.base_backups);
  const backup = chooseBackup(backups, req.target);
  if (!backup) {
    throw failure('NO_BASE_BACKUP', `No base backup in ${config.base_backups} ends before the target.`, {
      hint: backups.length ? 'Every backup was taken after the incident; use another source (snapshot, dump).' : 'The folder holds no pg_basebackup output (backup_label or base.tar missing).',
    });
  }
  await assertDiskSpace(req.workDir, backup.sizeBytes * (backup.format === 'tar' ? 4 : 1), `Restoring base backup ${backup.path}`);
  progress(`restoring base backup ${backup.path} (${backup.format}, start ${backup.startLsn})`);
  let source = backup.path;
  if (backup.format === 'tar') source = await extractTarBackup(backup, req.workDir);
  const bin = await findBinaries(await dataDirMajor(source));
  const inst = await TempInstance.fromDataDir(source, {
    bin,
    workDir: req.workDir,
    name: 'pitr',
    keep: req.keep,
    recovery: 'recovery',
    copy: backup.format === 'plain',
    settings: { restore_command: restoreCommandFor(config), ...targetSettings(req.target), hot_standby: true },
  });
  if (backup.format === 'tar') await rm(dirname(source), { recursive: true, force: true });
  try {
    progress(`replaying WAL to ${req.target.xid ? `just before transaction ${req.target.xid}` : (req.target.commitLsn ?? req.target.time ?? 'the end of the archive')}`);
    await startRecovery(inst);
    const outcome = await waitForPromotion(inst, { onProgress: progress });
    const conn = inst.connParams(req.database);
    const tables = await verifyTables(conn, req.tables, `PITR from ${backup.path}`);
    return {
      instance: inst,
      conn,
      database: req.database,
      recoveryPoint: {
        time: outcome.lastTransactionTime ?? null,
        lsn: outcome.redoDoneLsn ?? null,
        xid: req.target.xid ?? null,
        basis: outcome.stopLine ?? 'end of recovery',
      },
      tables,
      notes: [
        `Restored ${backup.path} and replayed WAL (${Math.round(outcome.durationMs / 100) / 10} s of recovery); ${outcome.stopLine ?? 'recovery ended'}.`,
        ...(outcome.timeline ? [`The temporary instance switched to timeline ${outcome.timeline}; it never archives.`] : []),
      ],
      release: () => inst.destroy(),
    };
  } catch (e) {
    await inst.destroy();
    throw e;
  }
}
