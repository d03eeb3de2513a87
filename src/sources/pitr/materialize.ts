// PITR → temporary instance: restore the newest base backup that ends before
// the target, replay archived WAL to just before the destructive transaction
// (recovery_target_xid, exclusive), promote, and prove the tables are there.
// A target is always set: without one a missing segment is silent data loss.
// When the tables live in one database, only that database (plus global/ and
// the system databases) is restored; the others are left sparse (selective.ts),
// and so are the files of that database's other user tables (relation-plan.ts).
import { realpathSync } from 'node:fs';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { failure } from '../../errors.js';
import type { SourceConfigOf } from '../../inventory/schema.js';
import { dataDirMajor, findBinaries, type PgBinaries } from '../../postgres/binaries.js';
import { TempInstance } from '../../postgres/instance.js';
import { phase } from '../../postgres/phases.js';
import { prepareWorkDir, removeStage } from '../../postgres/work-dir.js';
import { startRecovery, waitForPromotion } from '../../postgres/recovery-watch.js';
import { targetSettings } from '../materialize/target-settings.js';
import { shellQuote } from '../../util/redact.js';
import { archivedWalFrom, assertDiskSpace, isDiskFullIn, replayDiskFull, walBetween } from '../materialize/preflight.js';
import { recoveredInstance } from '../materialize/recovered.js';
import { assertCreatesLeaveTablespacesAlone, assertReplayLeavesTablespacesAlone, createsFromScan, ifSettled } from '../../postgres/replay-guard.js';
import type { Materialized, MaterializeRequest, ProbeResult } from '../types.js';
import { decidePlain, decideSelective, fpwReason, scopeText, selectiveStillHolds, withRelations } from '../materialize/selective/decide.js';
import { pinnedItem, pinnedUnusable } from '../materialize/choose.js';
import { type BaseBackup, chooseBackup, extractTarBackup, listBaseBackups } from './restore.js';
import {
  fullPageWritesProblem,
  plainSelectiveBytes,
  type SelectiveDecision,
  type SelectivePlan,
  selectiveNote,
  type StageStats,
  stagePlainSelective,
  treeBytes,
} from '../materialize/selective/plan.js';
import { createSparseMembers, extractTarProbe, fillSparseFromTar, listedBaseOids, tarCatalog, type TarMember, tarExcludes, tarMembers, tarSplit } from './selective-tar.js';

export function restoreCommandFor(config: { wal_archive?: string; restore_command?: string }): string {
  if (config.restore_command) return config.restore_command;
  return `cp ${shellQuote(`${config.wal_archive}`)}/%f "%p"`;
}

interface PreparedRestore {
  /** Data directory to hand to TempInstance.fromDataDir. */
  source: string;
  /** true: copy it (a plain backup, never modified); false: adopt a folder undrop made. */
  copy: boolean;
  bin: PgBinaries;
  plan?: SelectivePlan;
  notes: string[];
  /** What the disk pre-check counted as data written (a full work directory during replay names it). */
  dataBytes: number;
}

/** Lay the chosen backup out as a data directory, selectively when allowed and safe. */
async function prepareRestore(backup: BaseBackup, req: MaterializeRequest, progress: (m: string) => void): Promise<PreparedRestore> {
  // Defaults: a kept instance is one someone may go on reading (other tables would read as garbage); a
  // compressed tar's catalog costs a decompression pass of its own, which cost more than the writes it
  // saved on the bench (bench/results/pitr-selective.md): both stop at the database unless asked.
  const gzipTar = backup.format === 'tar' && !!backup.baseTar?.endsWith('.gz');
  const level = req.selective ?? (req.keep || gzipTar ? 'database' : 'relations');
  const wantSelective = level !== 'off';
  const wantRelations = level === 'relations';
  prepareWorkDir(req.workDir);
  // What replay writes on top of the restored data, when the target's LSN is known (locate, lsn:, a found xid).
  const wal = walBetween(backup.startLsn, req.target.commitLsn ?? req.target.firstLsn);
  const notes: string[] = [];
  const fullNote = (reason: string) => notes.push(`Full restore (not selective): ${reason}.`);
  if (backup.format === 'plain') {
    const bin = await findBinaries(await dataDirMajor(backup.path));
    if (wantSelective) {
      const d = await decidePlain(backup.path, bin, req, wantRelations, notes, 'backup');
      if (d.selective) {
        const whole = await treeBytes(backup.path);
        const dataBytes = await plainSelectiveBytes(backup.path, d.plan);
        await assertDiskSpace(req.workDir, { data: dataBytes, wal }, `Restoring base backup ${backup.path} (selective)`);
        progress(`restoring base backup ${backup.path} (plain, start ${backup.startLsn}) selectively: ${scopeText(d.plan)}`);
        const { dataDir, stats } = await phase('pitr: copy the backup (selective)', () => stagePlainSelective(backup.path, req.workDir, d.plan));
        return { source: dataDir, copy: false, bin, plan: d.plan, notes: [...notes, selectiveNote(d.plan, stats, whole)], dataBytes };
      }
      fullNote(d.reason);
    }
    const dataBytes = await treeBytes(backup.path);
    await assertDiskSpace(req.workDir, { data: dataBytes, wal }, `Restoring base backup ${backup.path}`);
    progress(`restoring base backup ${backup.path} (plain, start ${backup.startLsn})`);
    return { source: backup.path, copy: true, bin, notes, dataBytes };
  }
  // tar / tar.gz
  const walTarBytes = backup.walTar ? (await stat(backup.walTar)).size * (backup.walTar.endsWith('.gz') ? 4 : 1) : 0;
  if (wantSelective) {
    const probeDir = await extractTarProbe(backup.baseTar!, req.workDir);
    try {
      const major = await dataDirMajor(probeDir).catch(() => undefined);
      const bin = major ? await findBinaries(major) : undefined;
      const others = (await readdir(backup.path)).filter((e) => /^\d+\.tar(\.gz)?$/.test(e));
      let d: SelectiveDecision;
      let members: TarMember[] = [];
      if (!major || !bin) d = { selective: false, reason: `PG_VERSION is missing from ${backup.baseTar}` };
      else if (others.length) d = { selective: false, reason: `the backup has tablespaces (${others.join(', ')}), which selective restore does not handle` };
      else {
        members = (await tarMembers(backup)).members;
        const baseOids = listedBaseOids(members);
        d = await decideSelective(probeDir, baseOids, major, bin, req.database, false, wantRelations);
        if (wantRelations) d = await withRelations(d, baseOids, major, req, (oid) => tarCatalog(backup.baseTar!, members, oid, req.workDir), async (oid) => membersOf(members, oid), notes);
      }
      if (d.selective) {
        const plan = d.plan;
        const split = tarSplit(members, plan);
        // The target database's left-out files by exact name (tar reads the list from a file).
        const relationList = split.relation.length ? join(probeDir, 'relation-members') : undefined;
        if (relationList) await writeFile(relationList, `${split.relation.map((m) => m.path).join('\n')}\n`);
        await assertDiskSpace(req.workDir, { data: split.fullBytes + walTarBytes, wal }, `Restoring base backup ${backup.path} (selective)`);
        progress(`extracting base backup ${backup.path} (tar, start ${backup.startLsn}) selectively: ${scopeText(plan)}`);
        let stats: StageStats = { fullBytes: 0, sparseBytes: 0, sparseFiles: 0 };
        const source = await phase('pitr: extract the backup (selective)', () => extractTarBackup(backup, req.workDir, {
          onProgress: progress,
          exclude: tarExcludes(plan, relationList),
          beforeChown: async (data) => {
            stats = await createSparseMembers(data, split.sparse);
          },
        }));
        stats.fullBytes = split.fullBytes;
        stats.relationSparseBytes = split.relation.reduce((n, m) => n + m.size, 0);
        // pg_control comes last in base.tar: full_page_writes is checked on what was extracted.
        const fpw = await fullPageWritesProblem(source, bin);
        if (fpw) {
          progress('full_page_writes is off in the backup: extracting what was left out too');
          await fillSparseFromTar(backup.baseTar!, source, plan, relationList);
          fullNote(fpwReason(fpw));
          return { source, copy: false, bin: bin!, notes, dataBytes: split.fullBytes + walTarBytes };
        }
        return { source, copy: false, bin: bin!, plan, notes: [...notes, selectiveNote(plan, stats, split.fullBytes + stats.sparseBytes)], dataBytes: split.fullBytes + walTarBytes };
      }
      fullNote(d.reason);
    } finally {
      removeStage(probeDir);
    }
  }
  await assertDiskSpace(req.workDir, { data: backup.sizeBytes * 4, wal }, `Restoring base backup ${backup.path}`);
  progress(`extracting base backup ${backup.path} (tar, start ${backup.startLsn})`);
  const source = await phase('pitr: extract the backup', () => extractTarBackup(backup, req.workDir, { onProgress: progress }));
  return { source, copy: false, bin: await findBinaries(await dataDirMajor(source)), notes, dataBytes: backup.sizeBytes * 4 };
}

/** Probed backups that must not be restored, by path, with the probe's first error. */
function unusableBackups(probe: ProbeResult): Map<string, string> {
  const out = new Map<string, string>();
  for (const i of probe.items ?? []) {
    if (i.status !== 'unusable' || !i.path) continue;
    const why = i.findings.find((f) => f.level === 'error');
    out.set(i.path, why ? `${why.message}` : 'the probe found it unusable.');
  }
  return out;
}

/** " (which resolves to …)" when the backup folder was reached through a link (base/latest → 2026-…). */
function backupRealNote(path: string): string {
  try {
    const real = realpathSync(path);
    return real === path ? '' : ` (which resolves to ${real})`;
  } catch {
    return '';
  }
}

export async function materializePitr(config: SourceConfigOf<'pitr'>, req: MaterializeRequest, probe: ProbeResult): Promise<Materialized> {
  const progress = req.onProgress ?? (() => {});
  const all = await listBaseBackups(config.base_backups);
  // A backup the probe found unusable (pg_verifybackup failed, its WAL is missing …) is never restored.
  const broken = unusableBackups(probe);
  const skipped: string[] = [];
  let backup: BaseBackup | undefined;
  if (req.set) {
    backup = pinnedItem(all, req.set, (b) => [b.path], config.name);
    const why = broken.get(backup.path);
    if (why) throw pinnedUnusable('pitr', backup.path, req.set, why);
  } else {
    const wanted = chooseBackup(all, req.target);
    backup = chooseBackup(all.filter((b) => !broken.has(b.path)), req.target);
    if (wanted && wanted !== backup) skipped.push(`Base backup ${wanted.path} was skipped: ${broken.get(wanted.path)}${backup ? ` Restored the older ${backup.path} instead (more WAL to replay, same target).` : ''}`);
  }
  if (!backup) {
    throw failure('NO_BASE_BACKUP', skipped.length ? `No usable base backup in ${config.base_backups} ends before the target. ${skipped.join(' ')}` : `No base backup in ${config.base_backups} ends before the target.`, {
      hint: skipped.length ? 'Use another source (--source NAME: a snapshot, a dump, pgBackRest); `undrop probe` shows each one.' : all.length ? 'Every backup was taken after the incident; use another source (snapshot, dump).' : 'The folder holds no pg_basebackup output (backup_label or base.tar missing).',
    });
  }
  for (const n of skipped) progress(n);
  const prepared = await phase('pitr: plan and lay out the backup', () => prepareRestore(backup, req, progress));
  const { plan, bin } = prepared;
  let inst: TempInstance;
  try {
    // On this host a CREATE TABLESPACE in the replayed WAL would empty the live tablespace (replay-guard.ts).
    const walDir = config.wal_archive;
    if (walDir) {
      // an xid given by hand: its commit's LSN comes from locate's scan, running alongside, if it has finished;
      // else the guard's own pass reads to the archive's end and waits for it only over a CREATE TABLESPACE
      const end = req.target.commitLsn ?? req.target.firstLsn ?? (await ifSettled(req.targetEnd));
      const range = { startLsn: backup.startLsn, endLsn: end ?? undefined, timeline: backup.timeline };
      // locate read this WAL already (when its scan, running alongside, has finished): its findings, else our own pass
      const seen = createsFromScan(await ifSettled(req.walScanned), { source: config.name, ...range });
      if (seen) assertCreatesLeaveTablespacesAlone(seen, backup.path);
      else {
        progress('checking the WAL to replay for tablespaces it would create');
        await phase('pitr: check the WAL to replay for tablespaces', () => assertReplayLeavesTablespacesAlone(bin, { walDir, ...range, laterEnd: end ? undefined : req.targetEnd, label: backup.path }));
      }
    }
    inst = await TempInstance.fromDataDir(prepared.source, {
      bin,
      workDir: req.workDir,
      name: 'pitr',
      keep: req.keep,
      recovery: 'recovery',
      copy: prepared.copy,
      settings: {
        restore_command: restoreCommandFor(config),
        ...targetSettings(req.target),
        hot_standby: true,
        // A worker connecting to a left-out (sparse) database would only fail: keep them out.
        ...(plan ? { autovacuum: false } : {}),
      },
    });
  } finally {
    if (!prepared.copy) removeStage(dirname(prepared.source));
  }
  try {
    progress(`replaying WAL to ${req.target.xid ? `just before transaction ${req.target.xid}` : (req.target.commitLsn ?? req.target.time ?? 'the end of the archive')}`);
    await startRecovery(inst);
    const outcome = await waitForPromotion(inst, { onProgress: progress, targetLsn: req.target.commitLsn ?? req.target.firstLsn, fromLsn: backup.startLsn ?? undefined });
    // The plan must still hold at the recovery point; else the same run again, less selective.
    const again = plan ? await selectiveStillHolds(inst, req.database, req.tables, plan, 'the backup') : undefined;
    if (again) {
      await inst.destroy();
      const m = await materializePitr(config, { ...req, selective: again.level }, probe);
      m.notes.unshift(again.note);
      return m;
    }
    return await recoveredInstance(inst, req, outcome, `PITR from ${backup.path}`, [
      `Restored ${backup.path}${backupRealNote(backup.path)} and replayed WAL (${Math.round(outcome.durationMs / 100) / 10} s of recovery); ${outcome.stopLine ?? 'recovery ended'}.`,
      ...skipped,
      ...prepared.notes,
      ...(outcome.timeline ? [`The temporary instance switched to timeline ${outcome.timeline}; it never archives.`] : []),
    ]);
  } catch (e) {
    if (await isDiskFullIn(e, req.workDir)) {
      const need = { data: prepared.dataBytes, wal: walBetween(backup.startLsn, req.target.commitLsn ?? req.target.firstLsn) ?? (await archivedWalFrom(config.wal_archive, backup.startLsn)) };
      throw await replayDiskFull(e, req.workDir, need, `restoring base backup ${backup.path}`, () => inst.destroy());
    }
    await inst.destroy();
    throw e;
  }
}

/** A tar listing's files directly in base/<oid>/, with their sizes. Pure. */
function membersOf(members: readonly TarMember[], oid: number): { name: string; size: number }[] {
  const prefix = `base/${oid}/`;
  return members.filter((m) => m.path.startsWith(prefix) && !m.path.slice(prefix.length).includes('/')).map((m) => ({ name: m.path.slice(prefix.length), size: m.size }));
}
