// Barman → temporary instance: `barman recover` of the newest DONE backup that
// ends before the target into a work folder (never over production), the WAL
// it needs copied beside the data (barman_wal, no get-wal), then the same
// isolation as every copy: configuration replaced (archive_mode off, the
// target written again), started on a private socket, promoted at the target.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { type UndropError, failure, isUndropError } from '../../errors.js';
import type { SourceConfigOf } from '../../inventory/schema.js';
import { barmanRecover, chownForBarman } from '../../postgres/barman-programs.js';
import { dataDirMajor, findBinaries } from '../../postgres/binaries.js';
import { TempInstance } from '../../postgres/instance.js';
import { chownForServer } from '../../postgres/os-user.js';
import { pgControldata } from '../../postgres/programs.js';
import { startRecovery, waitForPromotion } from '../../postgres/recovery-watch.js';
import { assertReplayLeavesTablespacesAlone } from '../../postgres/replay-guard.js';
import { makeStage, removeStage } from '../../postgres/work-dir.js';
import { shellQuote } from '../../util/redact.js';
import { backupNotDone, pinnedItem, pinnedProbeItem } from '../materialize/choose.js';
import { assertDiskSpace, diskFullError, isDiskFullIn } from '../materialize/preflight.js';
import { recoveredInstance } from '../materialize/recovered.js';
import { withRestoreProgress } from '../materialize/restore-progress.js';
import { targetSettings } from '../materialize/target-settings.js';
import { type ResolvedTarget, pgTargetTime } from '../target.js';
import type { Materialized, MaterializeRequest, ProbeResult } from '../types.js';
import { chooseBackup } from './catalog.js';
import { DEFAULT_BARMAN_USER, barmanBackups, barmanOptions } from './probe.js';

export function barmanTarget(t: ResolvedTarget): { type: 'xid' | 'lsn' | 'time' | 'name'; value: string; timeline?: string } | undefined {
  const tl = t.timeline && /^\d+$/.test(t.timeline) ? { timeline: t.timeline } : {};
  if (t.kind === 'name' && t.name) return { type: 'name', value: t.name, ...tl };
  if (t.kind === 'xid' && t.xid) return { type: 'xid', value: t.xid, ...tl };
  if (t.kind === 'lsn' && t.commitLsn) return { type: 'lsn', value: t.commitLsn, ...tl };
  if (t.kind === 'time' && t.time) return { type: 'time', value: pgTargetTime(t.time), ...tl };
  return undefined;
}

/** barman recover stops when a WAL file the target needs is gone from its archive: say which, and what to do. */
export function walMissing(e: unknown, server: string): UndropError | undefined {
  if (!isUndropError(e)) return undefined;
  const text = e.details.join('\n');
  if (!/Failure copying WAL files/i.test(text)) return undefined;
  const seg = /([0-9A-F]{24})" failed: No such file/.exec(text)?.[1];
  return failure('BARMAN_WAL_MISSING', `Barman could not copy the WAL this recovery needs: ${seg ? `segment ${seg} is` : 'a segment is'} missing from server ${server}'s archive.`, {
    hint: 'undrop probe names the gap (WAL_GAP) and the last commit before it: recover to a target before the gap (--target time:…), or use another source.',
    details: e.details,
    cause: e,
  });
}

export async function materializeBarman(config: SourceConfigOf<'barman'>, req: MaterializeRequest, probe: ProbeResult): Promise<Materialized> {
  if (req.set) pinnedProbeItem(probe, req.set); // recover asked already; the catalog is asked again below
  const progress = req.onProgress ?? (() => {});
  const opts = barmanOptions(config);
  const user = config.barman_user ?? DEFAULT_BARMAN_USER;
  const { backups, failure: listFailure } = await barmanBackups(opts);
  if (listFailure) throw failure('BARMAN_FAILED', listFailure.message, { hint: listFailure.hint });
  const backup = req.set ? pinnedItem(backups, req.set, (b) => [b.id], config.name) : chooseBackup(backups, req.target);
  if (!backup) throw failure('NO_BASE_BACKUP', `Barman server ${config.server} has no DONE backup that ends before the target.`, { hint: 'Use another source (snapshot, dump), or a later target.' });
  if (backup.status !== 'DONE') throw backupNotDone(backup.id, backup.status);
  // barman recover writes each tablespace back to its original location, outside the work folder (on this
  // host, possibly a live one): refused until undrop relocates them into its own folder.
  if (backup.tablespaces.length > 0) {
    throw failure('BARMAN_TABLESPACES', `Barman backup ${backup.id} has tablespaces (${backup.tablespaces.map((t) => `${t.name} at ${t.location}`).join(', ')}): barman recover would write them back to those locations, outside undrop's work folder.`, {
      hint: 'Restore it by hand with barman recover --tablespace NAME:LOCATION into an empty folder (undrop playbook barman), then describe the copy as a snapshot source; or use another source.',
    });
  }
  await assertDiskSpace(req.workDir, backup.sizeBytes ?? 0, `Restoring Barman backup ${backup.id}`);

  const stage = await makeStage(req.workDir, 'barman');
  const data = join(stage, 'data');
  // Barman writes as its own OS user; the files are handed to the server OS user afterwards.
  await chownForBarman(stage, user);
  const target = barmanTarget(req.target);
  const jobs = req.processMax ?? availableParallelism();
  const notes: string[] = [];
  progress(`barman recover of backup ${backup.id}`);
  try {
    await withRestoreProgress(stage, `barman recover ${backup.id}`, backup.sizeBytes, progress, () =>
      barmanRecover({ ...opts, backupId: backup.id, destination: data, target, latest: req.target.kind === 'latest', jobs }),
    );
    await chownForServer(stage);
  } catch (e) {
    removeStage(stage);
    throw walMissing(e, config.server) ?? e;
  }
  let inst: TempInstance;
  try {
    const bin = await findBinaries(await dataDirMajor(data));
    // Replaying a CREATE TABLESPACE would empty a live tablespace on this host (replay-guard.ts).
    const control = await pgControldata(bin, data);
    const redo = control["Latest checkpoint's REDO location"];
    if (redo) {
      await assertReplayLeavesTablespacesAlone(bin, { walDir: join(data, 'barman_wal'), startLsn: redo, endLsn: req.target.commitLsn ?? req.target.firstLsn, timeline: Number(control["Latest checkpoint's TimeLineID"] ?? 1), label: `Barman backup ${backup.id}` });
    } else notes.push('The WAL to replay was not checked for tablespaces it would re-create (no redo point in pg_control).');
    inst = await TempInstance.fromDataDir(data, {
      bin,
      workDir: req.workDir,
      name: 'barman',
      keep: req.keep,
      copy: false,
      recovery: 'recovery',
      // Barman wrote its own recovery settings (restore_command, target, archive_command = false) into the
      // restored configuration, which is set aside with the rest: the target is written again into undrop's own.
      settings: { hot_standby: true, ...(target || req.target.kind === 'latest' ? targetSettings(req.target) : { recovery_target: 'immediate', recovery_target_action: 'promote' }) },
    });
  } finally {
    removeStage(stage);
  }
  try {
    // The WAL Barman copied lies inside the instance's own folder: nothing is read from Barman while replaying.
    await inst.configure({ restore_command: `cp ${shellQuote(join(inst.dataDir, 'barman_wal'))}/%f "%p"` });
    progress('replaying the WAL Barman copied');
    await startRecovery(inst);
    const outcome = await waitForPromotion(inst, { onProgress: progress, targetLsn: req.target.commitLsn ?? req.target.firstLsn });
    return await recoveredInstance(inst, req, outcome, `Barman backup ${backup.id}`, [`barman recover restored backup ${backup.id} (--jobs ${jobs}); ${outcome.stopLine ?? 'recovery ended'}.`, ...notes]);
  } catch (e) {
    // measured before the instance is removed, which frees the space again
    const err = (await isDiskFullIn(e, req.workDir)) ? await diskFullError(e, req.workDir, `WAL replay (Barman backup ${backup.id})`) : e;
    await inst.destroy();
    throw err;
  }
}
