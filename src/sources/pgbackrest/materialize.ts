// pgBackRest → temporary instance: `pgbackrest restore` of the newest backup
// set that ends before the target into a work folder (never over production),
// exclusive target, promote, archive-mode off; then start and follow recovery.
// pgBackRest does the heavy lifting: --process-max restores files in parallel
// (default: every core here), --db-include leaves the other databases' files
// sparse (zeroed), as undrop's own selective PITR restore does.
import { parsePgbackrestInfo } from './info.js';
import { availableParallelism } from 'node:os';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { failure } from '../../errors.js';
import type { SourceConfigOf } from '../../inventory/schema.js';
import { dataDirMajor, findBinaries, type PgBinaries } from '../../postgres/binaries.js';
import { TempInstance } from '../../postgres/instance.js';
import { phase } from '../../postgres/phases.js';
import { Lsn } from '../../postgres/wal/lsn.js';
import { makeStage, removeStage } from '../../postgres/work-dir.js';
import { withRestoreProgress } from '../materialize/restore-progress.js';
import { chownForServer } from '../../postgres/os-user.js';
import { stoppable } from '../../postgres/cleanup.js';
import { pgbackrestArchiveGet, pgControldata } from '../../postgres/programs.js';
import { stanzaInfo } from './info-recent.js';
import { assertCreatesLeaveTablespacesAlone, assertFetchedReplayLeavesTablespacesAlone, createsFromScan, ifSettled } from '../../postgres/replay-guard.js';
import { startRecovery, waitForPromotion } from '../../postgres/recovery-watch.js';
import { pgbackrestRestore } from '../../postgres/restore-programs.js';
import { pinnedItem, pinnedProbeItem } from '../materialize/choose.js';
import { type ResolvedTarget, pgTargetTime } from '../target.js';
import { assertDiskSpace, isDiskFullIn, replayDiskFull, walBetween, walToSegmentEnd } from '../materialize/preflight.js';
import { recoveredInstance } from '../materialize/recovered.js';
import { targetSettings } from '../materialize/target-settings.js';
import type { Materialized, MaterializeRequest, ProbeResult } from '../types.js';
import { shellQuote } from '../../util/redact.js';
import { archiveGetCommand } from './wal.js';

/** Always restored by pgBackRest; naming one in --db-include is refused. */
const SYSTEM_DATABASES = new Set(['postgres', 'template0', 'template1']);

interface BackrestSet {
  label: string;
  type: string;
  /** Where the backup started: the redo point its backup_label makes replay start from. */
  startLsn: string | null;
  /** The timeline of its first WAL segment. */
  timeline: number | null;
  stopLsn: string | null;
  stopTime: number | null;
  size: number;
}

export function backupSets(infoJson: string): BackrestSet[] {
  const doc = JSON.parse(infoJson) as { backup?: { label: string; type: string; archive?: { start?: string }; lsn?: { start?: string; stop?: string }; timestamp?: { stop?: number }; info?: { size?: number } }[] }[];
  return (doc[0]?.backup ?? []).map((b) => ({
    label: b.label,
    type: b.type,
    startLsn: b.lsn?.start ?? null,
    timeline: /^[0-9A-F]{24}$/i.test(b.archive?.start ?? '') ? parseInt(b.archive!.start!.slice(0, 8), 16) : null,
    stopLsn: b.lsn?.stop ?? null,
    stopTime: b.timestamp?.stop ? b.timestamp.stop * 1000 : null,
    size: b.info?.size ?? 0,
  }));
}

/** The repository's newest archived segment, or null when info does not say. */
function archiveMax(infoJson: string, stanza: string): string | null {
  try {
    return parsePgbackrestInfo(infoJson, stanza)?.archiveMax ?? null;
  } catch {
    return null;
  }
}

export function chooseSet(sets: readonly BackrestSet[], target: ResolvedTarget): BackrestSet | undefined {
  const limit = target.firstLsn ?? target.commitLsn;
  const ok = sets.filter((s) => {
    if (limit && s.stopLsn) return Lsn.compare(s.stopLsn, limit) < 0;
    if (target.time && s.stopTime) return s.stopTime < Date.parse(target.time);
    // xid, restore point or latest: the newest set (pin another with --set).
    return !limit && !target.time;
  });
  return ok[ok.length - 1];
}

function backrestTarget(t: ResolvedTarget): { type: 'xid' | 'lsn' | 'time' | 'name'; value: string; timeline?: string } | undefined {
  const tl = t.timeline ? { timeline: t.timeline } : {};
  if (t.kind === 'name' && t.name) return { type: 'name', value: t.name, ...tl };
  if (t.kind === 'xid' && t.xid) return { type: 'xid', value: t.xid, ...tl };
  if (t.kind === 'lsn' && t.commitLsn) return { type: 'lsn', value: t.commitLsn, ...tl };
  if (t.kind === 'time' && t.time) return { type: 'time', value: pgTargetTime(t.time), ...tl };
  return undefined;
}

/**
 * Replaying a CREATE TABLESPACE would empty the live tablespace on this host
 * (replay-guard.ts): the WAL from the backup's start (the redo point its
 * backup_label makes replay start from) to the target (without a target LSN:
 * to the end of the archive, which may refuse a tablespace created after the
 * target — safe, and said) is fetched with archive-get and read first. A range
 * too long to fetch twice is read only in part, and the notes say so.
 * `from` is the set's start and timeline from pgbackrest info, which lets the
 * check run while the restore does; without them, the restored pg_control's.
 */
async function guardTablespaces(
  from: { bin: PgBinaries; startLsn: string; timeline: number } | { bin: PgBinaries; data: string },
  opts: { stanza: string; config?: string; repo?: number },
  req: MaterializeRequest,
  label: string,
  wal: string,
  progress: (m: string) => void,
  notes: string[],
  sourceName: string,
): Promise<string | undefined> {
  const { bin } = from;
  // An xid given by hand: its commit's LSN from locate's scan. Waited for (beside the restore), unlike PITR's
  // pass: fetching to the archive's end meanwhile took the scan's and the restore's CPU (seed bench: 95 → 119 s).
  const end = req.target.commitLsn ?? req.target.firstLsn ?? (await req.targetEnd?.catch(() => undefined));
  let start: string | undefined;
  let timeline: number;
  if ('startLsn' in from) ({ startLsn: start, timeline } = from);
  else {
    const control = await pgControldata(bin, from.data);
    start = control["Latest checkpoint's REDO location"];
    timeline = Number(control["Latest checkpoint's TimeLineID"] ?? 1);
  }
  if (!start) {
    notes.push('The WAL to replay was not checked for tablespaces it would re-create (no redo point in pg_control).');
    return undefined;
  }
  // locate fetched and read this stanza's WAL already (when its scan has finished): its findings, when they cover the whole range
  const scan = await ifSettled(req.walScanned);
  const seen = createsFromScan(scan, { source: sourceName, startLsn: start, endLsn: end ?? undefined, timeline });
  if (seen) {
    assertCreatesLeaveTablespacesAlone(seen, label);
    // the segments that scan fetched from this repository, kept for the replay (recover removes them after)
    if (scan?.dir) notes.push(`The WAL to replay was checked for tablespaces it would re-create by locate's scan of this repository, and the replay copies the segments that scan fetched before asking the repository for more.`);
    return scan?.dir;
  }
  // `wal` outlives this check: the replay reads the segments fetched here instead of fetching them again.
  await mkdir(wal, { recursive: true });
  await chownForServer(wal);
  progress('checking the WAL to replay for tablespaces it would create');
  try {
    const checked = await assertFetchedReplayLeavesTablespacesAlone(bin, {
      fetch: async (segment, dest) => (await pgbackrestArchiveGet(opts, segment, dest)).exitCode === 0,
      stageDir: wal,
      startLsn: start,
      endLsn: end ?? undefined,
      // an xid nobody has found the end of yet: read while fetching, and stop at its commit
      endXid: end || req.target.kind !== 'xid' ? undefined : req.target.xid,
      timeline,
      label,
      // locate read another source's folder (an archive_command's copy of the same WAL): its answer holds for the
      // segments fetched here when they are identical, and the replay needs them fetched anyway
      elsewhere: scan,
    });
    if (!checked.complete) notes.push('The WAL to replay was too long to fetch twice: only its first 4 GB were checked for tablespaces it would re-create.');
    if (checked.sharedWith) notes.push(`The WAL to replay was checked for tablespaces it would re-create by locate's scan of ${checked.sharedWith}: its ${checked.segments} segment(s) from the repository are byte-identical to the ones that scan read.`);
    return undefined;
  } catch (e) {
    await rm(wal, { recursive: true, force: true });
    throw e;
  }
}

export async function materializePgbackrest(config: SourceConfigOf<'pgbackrest'>, req: MaterializeRequest, probe: ProbeResult): Promise<Materialized> {
  if (req.set) pinnedProbeItem(probe, req.set); // recover asked already; pgbackrest info is asked again below
  const progress = req.onProgress ?? (() => {});
  const opts = { stanza: config.stanza, config: config.config, repo: config.repo };
  const info = await phase('pgbackrest: read the repository (pgbackrest info)', () => stanzaInfo(opts, 60_000));
  if (info.exitCode !== 0) throw failure('PGBACKREST_INFO_FAILED', `pgbackrest info failed for stanza ${config.stanza}.`, { details: info.stderr.split('\n').slice(-5) });
  const set = req.set ? pinnedItem(backupSets(info.stdout), req.set, (s) => [s.label], config.name) : chooseSet(backupSets(info.stdout), req.target);
  if (!set) throw failure('NO_BASE_BACKUP', `pgBackRest stanza ${config.stanza} has no backup that ends before the target.`, { hint: 'Use another source (snapshot, dump), or a later target.' });
  // What replay writes on top of the restored data (from the backup's end), when the target's LSN is known.
  const targetLsn = req.target.commitLsn ?? req.target.firstLsn;
  await assertDiskSpace(req.workDir, { data: set.size, wal: walBetween(set.stopLsn, targetLsn) }, `Restoring pgBackRest backup ${set.label}`);
  // A full work directory while the WAL is fetched or replayed: the same figures, the WAL to the archive's end when the target has no LSN.
  const replayFull = async (e: unknown, what: string, remove: () => Promise<void>) =>
    replayDiskFull(e, req.workDir, { data: set.size, wal: walBetween(set.stopLsn, targetLsn) ?? walToSegmentEnd(set.stopLsn, archiveMax(info.stdout, config.stanza)) }, what, remove);

  const stage = await makeStage(req.workDir, 'pgbackrest');
  const data = join(stage, 'data');
  await mkdir(data, { mode: 0o700 });
  await chownForServer(stage);
  progress(`pgbackrest restore of backup ${set.label} (${set.type})`);
  const target = backrestTarget(req.target);
  const processMax = req.processMax ?? availableParallelism();
  const include = req.selective !== 'off' && !SYSTEM_DATABASES.has(req.database) ? [req.database] : [];
  const notes: string[] = [];
  // The WAL the tablespace check fetches, kept for the replay (removed once the instance is recovered).
  const fetched = await makeStage(req.workDir, 'pgbackrest-wal');
  await chownForServer(fetched);
  const guardLabel = `pgBackRest backup ${set.label}`;
  // With the set's start, timeline and major version known from pgbackrest info, the check reads the
  // repository's WAL while the restore runs (it is off the critical path); otherwise after it, from pg_control.
  const major = Number(parsePgbackrestInfo(info.stdout, config.stanza)?.pgVersion);
  const early = set.startLsn && set.timeline && Number.isInteger(major) && major >= 10 ? { startLsn: set.startLsn, timeline: set.timeline, major } : null;
  const guardEarly = early
    ? phase('pgbackrest: check the WAL to replay for tablespaces (alongside the restore)', async () =>
        guardTablespaces({ bin: await findBinaries(early.major), startLsn: early.startLsn, timeline: early.timeline }, opts, req, guardLabel, fetched, progress, notes, config.name),
      )
    : null;
  // Tablespaces are restored into the stage, never to their original paths.
  const restore = (dbInclude: string[]) =>
    withRestoreProgress(stage, `pgbackrest restore ${set.label}`, dbInclude.length ? null : set.size || null, progress, () =>
      pgbackrestRestore({ ...opts, pgPath: data, tablespaceDir: join(stage, 'tablespaces'), set: set.label, target, latest: req.target.kind === 'latest', dbInclude, processMax }),
    );
  const restoring = stoppable(async () => {
    try {
      await phase('pgbackrest: restore the backup set', () => restore(include));
      if (include.length) notes.push(`pgBackRest restored database ${req.database} and the system databases only (--db-include); the others were left sparse.`);
    } catch (e) {
      // The database may not be in this backup (created after it, then replayed from WAL): restore everything.
      if (!include.length || !/db-include|database to include|does not exist/i.test(`${(e as Error).message} ${JSON.stringify((e as { details?: unknown }).details ?? '')}`)) throw e;
      await rm(data, { recursive: true, force: true });
      await rm(join(stage, 'tablespaces'), { recursive: true, force: true });
      await mkdir(data, { mode: 0o700 });
      await chownForServer(stage);
      notes.push(`Full restore (not --db-include): ${(e as Error).message}`);
      await phase('pgbackrest: restore the backup set (whole)', () => restore([]));
    }
  });
  // A refusal from the check alongside stops the restore: on a large cluster it could run for hours to no end.
  let refused: unknown;
  guardEarly?.catch((e: unknown) => {
    refused = e;
    void restoring.stop();
  });
  try {
    await restoring.done;
  } catch (e) {
    await guardEarly?.catch(() => {});
    removeStage(fetched);
    removeStage(stage);
    throw refused ?? e;
  }
  let inst: TempInstance;
  let scanned: string | undefined;
  try {
    const bin = await findBinaries(await dataDirMajor(data));
    if (guardEarly) scanned = await guardEarly;
    else scanned = await phase('pgbackrest: check the WAL to replay for tablespaces', () => guardTablespaces({ bin, data }, opts, req, guardLabel, fetched, progress, notes, config.name));
    inst = await TempInstance.fromDataDir(data, {
      bin,
      workDir: req.workDir,
      name: 'pgbackrest',
      keep: req.keep,
      copy: false,
      recovery: 'recovery',
      // pgbackrest restore wrote the target into postgresql.auto.conf, which is set aside with the rest of the
      // restored configuration: the same target is written again into undrop's own.
      settings: { hot_standby: true, ...(target || req.target.kind === 'latest' ? targetSettings(req.target) : { recovery_target: 'immediate', recovery_target_action: 'promote' }) },
    });
  } catch (e) {
    const full = await isDiskFullIn(e, req.workDir);
    removeStage(fetched);
    if (full) {
      throw await replayFull(e, `pgBackRest backup ${set.label}, fetching the WAL to replay`, async () => removeStage(stage));
    }
    throw e;
  } finally {
    removeStage(stage);
  }
  try {
    // archive-get insists that the server's data directory is its pg1-path: name the temp one.
    // Segments already fetched from this repository (by locate's scan, or the tablespace check) are copied, not
    // fetched again; the rest come from the repository.
    const copies = [scanned, fetched].filter((d): d is string => !!d).map((d) => `cp ${shellQuote(d)}/%f "%p" 2>/dev/null || `);
    await inst.configure({ restore_command: `${copies.join('')}${archiveGetCommand(config, inst.dataDir)}` });
    progress('replaying WAL from the repository');
    await startRecovery(inst);
    const outcome = await waitForPromotion(inst, { onProgress: progress, targetLsn: req.target.commitLsn ?? req.target.firstLsn });
    return await recoveredInstance(inst, req, outcome, `pgBackRest backup ${set.label}`, [`pgbackrest restored backup set ${set.label} (--process-max ${processMax}); ${outcome.stopLine ?? 'recovery ended'}.`, ...notes]);
  } catch (e) {
    if (await isDiskFullIn(e, req.workDir)) throw await replayFull(e, `pgBackRest backup ${set.label}`, async () => {
      await inst.destroy();
      removeStage(fetched);
    });
    await inst.destroy();
    throw e;
  } finally {
    removeStage(fetched);
  }
}
