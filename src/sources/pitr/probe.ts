// Probe a PITR source: base backups + WAL archive (folder or restore_command).
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../../errors.js';
import type { SourceConfigOf } from '../../inventory/schema.js';
import { type PgBinaries, findBinaries } from '../../postgres/binaries.js';
import { Lsn } from '../../postgres/wal/lsn.js';
import { segmentName, segnoOfLsn } from '../../postgres/wal/segments.js';
import { chownForServer } from '../../postgres/os-user.js';
import { phase } from '../../postgres/phases.js';
import { pgControldata, pgVerifybackup } from '../../postgres/programs.js';
import { runProgram } from '../../postgres/run.js';
import type { Finding, ProbeContext, ProbeItem, ProbeResult, RecoveryPoint } from '../types.js';
import { aggregateItems, sortItems } from '../common/aggregate.js';
import { fsErrorText } from '../common/files.js';
import { error, firstLine, info, statusOf, warn } from '../common/findings.js';
import { lossWindowMs, targetTime } from '../common/loss.js';
import { checkAge, thresholdsFor } from '../common/thresholds.js';
import { historyFileName, parseBackupLabel } from './backup-label.js';
import { type BaseBackup, backupDirs, readBaseBackup } from './backups.js';
import { manifestEndLsn } from './manifest.js';
import { fetchWalFile } from '../common/restore-command.js';
import { walkRestoreCommand } from './restore-command.js';
import { type ArchiveListing, type GapAnalysis, analyzeGaps, listArchiveDir, lsnReachable, lsnSegmentName } from '../common/wal-archive.js';
import { type LastCommit, lastCommitInSegments } from '../../postgres/wal/commits.js';
import { readSegmentHeader, walFileMajor } from '../../postgres/wal/segments.js';
import { makeStage, removeStage } from '../../postgres/work-dir.js';
import { findPinned } from '../materialize/choose.js';

export interface BackupProbe {
  item: ProbeItem;
  backup: BaseBackup;
  gaps: GapAnalysis | null;
  endLsn: string | null;
  reach: LastCommit | null;
  reachesTarget: boolean;
}

interface ArchiveView {
  listing: ArchiveListing;
  /** Folder holding the segment files pg_waldump reads. */
  dir: string;
  /** Folder for pg_verifybackup -w (a real archive folder only). */
  verifyDir: string | null;
  readText(name: string): Promise<string | null>;
}

function startOf(b: BaseBackup): { tli: number; lsn: string } | null {
  if (!b.label?.startLsn) return null;
  return { tli: b.label.startTimeline ?? 1, lsn: b.label.startLsn };
}

async function openArchive(config: SourceConfigOf<'pitr'>, backups: BaseBackup[], ctx: ProbeContext, findings: Finding[], budgetMs: number): Promise<{ view: ArchiveView | null; cleanup: () => Promise<void> }> {
  if (config.wal_archive) {
    const dir = config.wal_archive;
    try {
      const listing = await listArchiveDir(dir, (n) => readFile(join(dir, n), 'utf8'));
      return {
        view: { listing, dir, verifyDir: dir, readText: (n) => readFile(join(dir, n), 'utf8').catch(() => null) },
        cleanup: async () => {},
      };
    } catch (e) {
      findings.push(error('WAL_ARCHIVE_UNREADABLE', `Cannot list the WAL archive ${dir}: ${fsErrorText(e)}.`, 'Check wal_archive in undrop.yaml and that undrop may read the folder.'));
      return { view: null, cleanup: async () => {} };
    }
  }
  const cmd = config.restore_command!;
  const dir = await makeStage(ctx.workDir, 'probe-wal');
  await chmod(dir, 0o700);
  await chownForServer(dir, false);
  const cleanup = async () => removeStage(dir);
  const starts = backups.map(startOf).filter((s): s is { tli: number; lsn: string } => s !== null).map((s) => ({ tli: s.tli, segno: segnoOfLsn(s.lsn) }));
  if (starts.length === 0) return { view: null, cleanup };
  const walk = await walkRestoreCommand(cmd, starts, dir, { budgetMs, maxSegments: 2048 });
  const seen = [...walk.listing.segments.values()].reduce((n, s) => n + s.size, 0);
  if (seen === 0) {
    const f = walk.firstFailure;
    findings.push(
      error(
        'RESTORE_COMMAND_FAILED',
        `restore_command fetched no WAL segment${f ? ` (exit ${f.exitCode}: ${firstLine(f.stderr) || 'no error text'})` : ''}.`,
        'Run the command by hand as the postgres user with %f = the oldest backup\'s start segment and %p = /tmp/x; fix the command or its credentials.',
      ),
    );
    return { view: null, cleanup };
  }
  findings.push(info('RESTORE_COMMAND_WALK', `restore_command: fetched ${walk.fetched} file(s) to map the archive (it cannot be listed; a missing segment followed by none is taken as the archive's end).`));
  if (walk.truncated) findings.push(warn('ARCHIVE_WALK_TRUNCATED', 'Stopped walking the archive at the probe\'s budget; the archive may reach further.', 'Raise the source\'s timeout in undrop.yaml.'));
  return {
    view: {
      listing: walk.listing,
      dir,
      verifyDir: null,
      readText: async (n) => {
        const r = await fetchWalFile(cmd, n, dir, 30_000);
        return r.ok ? readFile(join(dir, n), 'utf8').catch(() => null) : null;
      },
    },
    cleanup,
  };
}

/**
 * The archive's system identifier (from the first and last segment of each
 * timeline) against production's, or the backups' when production is not
 * reachable: WAL of another cluster cannot be replayed onto these backups.
 */
async function archiveOfOtherCluster(view: ArchiveView, expected: { id: string; whose: string } | undefined): Promise<Finding | undefined> {
  if (!expected) return undefined;
  const names = [...view.listing.files.entries()].filter(([, raw]) => !/\.(gz|zst|lz4|xz|bz2|br)$/.test(raw)).map(([name, raw]) => ({ name, raw })).sort((a, b) => a.name.localeCompare(b.name));
  const byTli = new Map<string, typeof names>();
  for (const n of names) byTli.set(n.name.slice(0, 8), [...(byTli.get(n.name.slice(0, 8)) ?? []), n]);
  const sample = [...byTli.values()].flatMap((l) => (l.length > 1 ? [l[0]!, l[l.length - 1]!] : l));
  const foreign = new Map<string, string>();
  for (const n of sample) {
    const h = existsSync(join(view.dir, n.raw)) ? await readSegmentHeader(join(view.dir, n.raw)) : null;
    if (h && h.systemIdentifier !== expected.id && !foreign.has(h.systemIdentifier)) foreign.set(h.systemIdentifier, n.name);
  }
  const first = [...foreign.entries()][0];
  if (!first) return undefined;
  return error(
    'WAL_OTHER_CLUSTER',
    `The WAL archive holds WAL of another cluster: ${first[1]} has system identifier ${first[0]}, ${expected.whose} is ${expected.id}. It cannot be replayed onto this cluster's backups.`,
    'Point wal_archive (or restore_command) at the archive of the damaged cluster (compare `pg_controldata` "Database system identifier"), or move the foreign files away.',
  );
}

async function pickBinaries(view: ArchiveView | null, backups: BaseBackup[]): Promise<PgBinaries> {
  let major: number | null = null;
  if (view) {
    for (const name of view.listing.files.values()) {
      if (existsSync(join(view.dir, name))) {
        major = (await walFileMajor(join(view.dir, name))) ?? null;
        if (major) break;
      }
    }
  }
  major ??= backups.find((b) => b.pgVersion)?.pgVersion ?? null;
  if (major) {
    try {
      return await findBinaries(major);
    } catch {
      /* fall back to the newest; a finding follows from the failing program */
    }
  }
  return findBinaries();
}

async function verifyPlain(bin: PgBinaries, b: BaseBackup, g: GapAnalysis | null, view: ArchiveView | null, timeoutMs: number): Promise<Finding[]> {
  const start = startOf(b);
  const hasOwnStart = start ? b.ownWal.has(segmentName(start.tli, segnoOfLsn(start.lsn))) : false;
  if (!existsSync(join(b.dir, 'backup_manifest'))) {
    return [warn('BACKUP_NO_MANIFEST', 'No backup_manifest: the backup cannot be verified (pg_basebackup --no-manifest, or copied without it).', 'Take backups with a manifest (the default since PostgreSQL 13).')];
  }
  const walDir = hasOwnStart ? undefined : (view?.verifyDir ?? undefined);
  const r = await pgVerifybackup(bin, b.dir, { walDir, timeoutMs, noWal: !hasOwnStart && !walDir });
  void g;
  if (r.exitCode === 0) return [info('BACKUP_VERIFIED', 'pg_verifybackup: backup successfully verified.')];
  const lines = (r.stderr || r.stdout).split('\n').filter((l) => l.includes('error'));
  return [
    error(
      'BACKUP_VERIFY_FAILED',
      `pg_verifybackup failed: ${firstLine(lines[0] ?? r.stderr).replace(/^pg_verifybackup: error: /, '')}${lines.length > 1 ? ` (+${lines.length - 1} more)` : ''}`,
      'Files of this backup are missing or changed since it was taken; use another backup.',
    ),
  ];
}

async function verifyTarDeep(bin: PgBinaries, b: BaseBackup, ctx: ProbeContext, view: ArchiveView | null): Promise<Finding[]> {
  const dir = await makeStage(ctx.workDir, 'probe-tar');
  try {
    for (const f of b.tarFiles) {
      const isWal = /\/pg_wal\.tar/.test(f);
      const into = isWal ? join(dir, 'pg_wal') : dir;
      await mkdir(into, { recursive: true });
      const r = await runProgram('tar', ['-xf', f, '-C', into], { allowFailure: true, timeoutMs: Math.max(ctx.timeoutMs, 120_000) });
      if (r.exitCode !== 0) return [error('BACKUP_TAR_BROKEN', `Extracting ${f.split('/').pop()} failed: ${firstLine(r.stderr)}`, 'The tar file is damaged or truncated; use another backup.')];
    }
    if (!existsSync(join(b.dir, 'backup_manifest'))) return [warn('BACKUP_NO_MANIFEST', 'Extracted fine, but there is no backup_manifest to verify against.')];
    await runProgram('cp', [join(b.dir, 'backup_manifest'), join(dir, 'backup_manifest')]);
    const fake: BaseBackup = { ...b, dir, ownWal: b.hasWalTar ? new Set(['x']) : new Set() };
    const start = startOf(b);
    if (b.hasWalTar && start) fake.ownWal = new Set([segmentName(start.tli, segnoOfLsn(start.lsn))]);
    const f = await verifyPlain(bin, fake, null, view, Math.max(ctx.timeoutMs, 120_000));
    return f.map((x) => (x.code === 'BACKUP_VERIFIED' ? { ...x, message: 'Extracted and verified with pg_verifybackup (--deep).' } : x));
  } finally {
    removeStage(dir);
  }
}

export async function probePitr(config: SourceConfigOf<'pitr'>, ctx: ProbeContext): Promise<ProbeResult> {
  const started = Date.now();
  const t = thresholdsFor(config);
  const sourceFindings: Finding[] = [];
  const result = (items: BackupProbe[]): ProbeResult => {
    const agg = aggregateItems(
      items.map((i) => i.item),
      sourceFindings,
      'base backup',
      newerStartFirst(items),
    );
    const chosen = items.find((i) => i.item === agg.chosen);
    return {
      name: config.name,
      kind: 'pitr',
      status: agg.status,
      recoveryPoint: agg.recoveryPoint,
      tables: [],
      findings: agg.findings,
      items: agg.items,
      lossWindowMs: lossWindowMs(agg.recoveryPoint, ctx.target, chosen?.reachesTarget ?? false),
      timeLeftMs: null,
      estimatedMaterializeMs: chosen?.gaps?.lastContiguous ? Math.round(3000 + Number(chosen.gaps.lastContiguous.segno - chosen.gaps.startSegno + 1n) * 150) : null,
      durationMs: Date.now() - started,
    };
  };

  let dirs: string[];
  try {
    dirs = await backupDirs(config.base_backups);
  } catch (e) {
    sourceFindings.push(error('BASE_BACKUPS_UNREADABLE', `Cannot read base_backups ${config.base_backups}: ${fsErrorText(e)}.`, 'Check base_backups in undrop.yaml.'));
    return result([]);
  }
  if (dirs.length === 0) sourceFindings.push(error('NO_BASE_BACKUPS', `${config.base_backups} holds no base backup.`, 'Check that the backup job writes there (one pg_basebackup output per folder).'));
  const backups = await phase(`probe ${config.name}: read the base backups`, () => Promise.all(dirs.map((d) => readBaseBackup(d, ctx.timeoutMs))));
  const { view, cleanup } = await phase(`probe ${config.name}: list the WAL archive`, () => openArchive(config, backups, ctx, sourceFindings, Math.max(2000, ctx.timeoutMs * 0.6)));
  try {
    const bin = await pickBinaries(view, backups);
    if (view) {
      const segs = [...view.listing.segments.entries()].map(([tli, s]) => `${s.size} on timeline ${tli}`).join(', ');
      sourceFindings.push(info('WAL_ARCHIVE', `WAL archive: ${segs || 'no segments'}; ${view.listing.histories.size} timeline history file(s).`));
      const backupId = backups.map((b) => b.manifest?.systemIdentifier).find((x): x is string => !!x);
      const expected = ctx.productionSystemId ? { id: ctx.productionSystemId, whose: "production's" } : backupId ? { id: backupId, whose: "the base backups'" } : undefined;
      const other = await archiveOfOtherCluster(view, expected);
      if (other) sourceFindings.unshift(other);
    }
    const dumps = new Map<string, Promise<{ commit: LastCommit | null; error: string | null }>>();
    const lastCommit = (g: GapAnalysis): Promise<{ commit: LastCommit | null; error: string | null }> => {
      const last = g.lastContiguous!;
      const span = g.path.find((s) => s.tli === last.tli)!;
      let first = last.segno - 3n;
      for (const floor of [g.startSegno, span.beginSegno]) if (first < floor) first = floor;
      const firstName = segmentName(last.tli, first);
      const key = `${firstName}-${last.name}`;
      let p = dumps.get(key);
      if (!p) {
        const raw = [firstName, last.name].map((n) => view!.listing.files.get(n) ?? n);
        if (raw.some((n) => !existsSync(join(view!.dir, n)) || /\.(gz|zst|lz4|xz|bz2|br)$/.test(n))) {
          p = Promise.resolve({ commit: null, error: 'segments are compressed or not on disk; pg_waldump cannot read them' });
        } else p = phase(`probe ${config.name}: read the last commit (pg_waldump)`, () => lastCommitInSegments(bin, view!.dir, firstName, last.name, Math.max(ctx.timeoutMs, 10_000)));
        dumps.set(key, p);
      }
      return p;
    };
    const verifications = new Map<BaseBackup, Promise<Finding[]>>();
    const verify = (b: BaseBackup): Promise<Finding[]> => {
      let p = verifications.get(b);
      if (!p) verifications.set(b, (p = phase(`probe ${config.name}: verify ${b.name}`, () => verifyBackup(b, view, bin, ctx))));
      return p;
    };
    const chosenOnly = ctx.verify === 'chosen';
    // Recover verifies what it restores: the likeliest backup starts verifying beside the checks.
    const likely = chosenOnly ? likelyRestored(backups, ctx) : undefined;
    if (likely) verify(likely).catch(() => undefined);
    const items = await Promise.all(backups.map((b) => probeBackup(b, view, bin, ctx, t, lastCommit, chosenOnly ? undefined : verify).catch((e): BackupProbe => ({
      item: { label: b.name, path: b.dir, status: 'unusable', recoveryPoint: null, findings: [error('PROBE_FAILED', errorMessage(e))] },
      backup: b,
      gaps: null,
      endLsn: null,
      reach: null,
      reachesTarget: false,
    }))));
    try {
      if (chosenOnly) await verifyRestored(items, verify, ctx.pinned);
    } finally {
      // No pg_verifybackup is left running (a speculative one may not have been needed).
      await Promise.allSettled(verifications.values());
    }
    return result(items);
  } finally {
    await cleanup();
  }
}

/** Same recovery point: the newer base backup first (least WAL to replay). */
function newerStartFirst(items: readonly BackupProbe[]): (a: ProbeItem, b: ProbeItem) => number {
  return (a, b) => {
    const la = items.find((i) => i.item === a)?.backup.label?.startLsn;
    const lb = items.find((i) => i.item === b)?.backup.label?.startLsn;
    if (!la || !lb) return 0;
    return Lsn.compare(lb, la);
  };
}

/** The backup recover will most likely restore: the pinned one, else the newest that starts before the target. */
function likelyRestored(backups: readonly BaseBackup[], ctx: ProbeContext): BaseBackup | undefined {
  const pin = findPinned(backups, ctx.pinned, (b) => [b.dir]); // the lookup recover's --set check and materialize use
  if (pin) return pin.problem ? undefined : pin;
  const limit = ctx.target?.firstLsn ?? ctx.target?.commitLsn;
  return backups
    .filter((b) => !b.problem && b.label?.startLsn && (!limit || Lsn.before(b.label.startLsn, limit)))
    .sort((a, b) => Lsn.compare(b.label!.startLsn!, a.label!.startLsn!))[0];
}

/**
 * 'chosen' mode: verify the backup recover restores (the pinned one, else the best), and an older one only
 * while the newer fail; the others say they were not verified. A large cluster keeps several base
 * backups, and reading each whole would hold up the recovery for minutes.
 */
async function verifyRestored(items: BackupProbe[], verify: (b: BaseBackup) => Promise<Finding[]>, pinned: string | undefined): Promise<void> {
  const pin = findPinned(items, pinned, (i) => [i.backup.dir]);
  const order = pin ? [pin] : sortItems(items.map((i) => i.item), newerStartFirst(items)).map((it) => items.find((i) => i.item === it)!);
  const verified = new Set<BackupProbe>();
  let restored: BackupProbe | undefined;
  const usable = (bp: BackupProbe) => bp.item.status !== 'unusable';
  for (const bp of order) {
    if (!usable(bp)) continue;
    addFindings(bp, await verify(bp.backup));
    verified.add(bp);
    if (usable(bp)) {
      restored = bp;
      break;
    }
  }
  for (const bp of items) {
    if (verified.has(bp) || !usable(bp) || !bp.backup.label) continue;
    addFindings(bp, [info('BACKUP_VERIFY_SKIPPED', `Not verified by this recovery: it restores ${restored ? `base backup ${restored.backup.name}` : 'another base backup'} (undrop probe verifies every one).`)]);
  }
}

function addFindings(bp: BackupProbe, findings: readonly Finding[]): void {
  bp.item.findings.push(...findings);
  bp.item.status = statusOf(bp.item.findings);
}

async function probeBackup(
  b: BaseBackup,
  view: ArchiveView | null,
  bin: PgBinaries,
  ctx: ProbeContext,
  t: ReturnType<typeof thresholdsFor>,
  lastCommit: (g: GapAnalysis) => Promise<{ commit: LastCommit | null; error: string | null }>,
  verify: ((b: BaseBackup) => Promise<Finding[]>) | undefined,
): Promise<BackupProbe> {
  // Verification reads the whole backup: it runs beside the checks below (each a program of its own) instead of after them.
  const verifying = b.problem || !verify ? undefined : verify(b);
  let verified = false;
  try {
    return await checkBackup(b, view, bin, ctx, t, lastCommit, async () => {
      verified = true;
      return verifying ? await verifying : [];
    });
  } finally {
    // An early verdict (unusable before verification counts) still waits for it: no program is left running.
    if (verifying && !verified) await verifying.catch(() => undefined);
  }
}

/** What is run on one backup's files (pg_verifybackup on a plain one, a test extraction with --deep). */
async function verifyBackup(b: BaseBackup, view: ArchiveView | null, bin: PgBinaries, ctx: ProbeContext): Promise<Finding[]> {
  if (b.format === 'plain') return verifyPlain(bin, b, null, view, Math.max(ctx.timeoutMs, 60_000));
  if (ctx.deep) return verifyTarDeep(bin, b, ctx, view);
  return [info('BACKUP_NOT_VERIFIED', `Tar backup: not verified (PostgreSQL ${bin.major} pg_verifybackup reads only plain backups; --deep extracts and verifies it).`)];
}

async function checkBackup(
  b: BaseBackup,
  view: ArchiveView | null,
  bin: PgBinaries,
  ctx: ProbeContext,
  t: ReturnType<typeof thresholdsFor>,
  lastCommit: (g: GapAnalysis) => Promise<{ commit: LastCommit | null; error: string | null }>,
  verified: () => Promise<Finding[]>,
): Promise<BackupProbe> {
  const findings: Finding[] = [];
  const out: BackupProbe = {
    item: { label: b.name, path: b.dir, status: 'unusable', recoveryPoint: null, findings, ...(b.sizeBytes !== null ? { sizeBytes: b.sizeBytes } : {}) },
    backup: b,
    gaps: null,
    endLsn: null,
    reach: null,
    reachesTarget: false,
  };
  const finish = (point: RecoveryPoint | null) => {
    out.item.recoveryPoint = point;
    out.item.status = statusOf(findings);
    return out;
  };
  if (b.problem) {
    findings.push(error(b.problem.code, b.problem.message, b.problem.hint));
    return finish(null);
  }
  const label = b.label!;
  const start = startOf(b)!;
  findings.push(info('BACKUP', `${b.format} backup started ${label.startTime ?? '?'} at ${label.startLsn} (timeline ${start.tli})${label.label ? `, label "${label.label}"` : ''}.`));
  // End LSN: manifest WAL-Ranges, else the archived backup history file.
  let endLsn = b.manifest ? manifestEndLsn(b.manifest) : null;
  let endBasis = 'backup_manifest';
  if (!endLsn && view && label.startSegment) {
    const text = await view.readText(historyFileName(label.startSegment, label.startLsn!));
    if (text) {
      endLsn = parseBackupLabel(text).stopLsn;
      endBasis = 'backup history file';
    }
  }
  out.endLsn = endLsn;
  if (endLsn) findings.push(info('BACKUP_END', `Consistent from ${endLsn} (${endBasis}); no recovery target before it is possible.`));
  else findings.push(warn('BACKUP_END_UNKNOWN', 'The backup\'s end LSN is unknown (no backup_manifest and no archived .backup file).', 'Recovery will still find it, but a target before it cannot be ruled out here.'));

  // System identifier (plain backups: pg_controldata reads the copied pg_control).
  const sid = b.manifest?.systemIdentifier ?? (b.format === 'plain' ? await pgControldata(bin, b.dir).then((c) => c['Database system identifier'] ?? null, () => null) : null);
  if (sid && ctx.productionSystemId && sid !== ctx.productionSystemId) {
    findings.push(error('BACKUP_OTHER_CLUSTER', `This backup is of another cluster: system identifier ${sid}, production's is ${ctx.productionSystemId}.`, 'Check base_backups in undrop.yaml.'));
  }

  // WAL: the backup's own range, then the archive.
  const extra = new Set(b.ownWal);
  if (b.format === 'tar' && b.hasWalTar && endLsn) {
    for (let s = segnoOfLsn(start.lsn); s <= segnoOfLsn(endLsn); s++) extra.add(segmentName(start.tli, s));
  }
  if (!view) {
    findings.push(error('NO_WAL', 'No WAL archive could be read: the backup alone restores only to its end, and without a target check.', 'Fix wal_archive / restore_command.'));
    return finish(null);
  }
  const tgtTli = ctx.target?.timeline && /^\d+$/.test(ctx.target.timeline) ? Number(ctx.target.timeline) : undefined;
  const g = analyzeGaps(view.listing, start.tli, start.lsn, extra, 20, tgtTli);
  out.gaps = g;
  if (endLsn && !lsnReachable(g, endLsn)) {
    findings.push(
      error(
        'BACKUP_WAL_MISSING',
        `WAL segment ${g.firstGap?.name ?? lsnSegmentName(g, endLsn)}, needed to make this backup consistent (up to ${endLsn}), is missing: it cannot be restored at all.`,
        'Find the segment (production pg_wal, another archive copy) or use another backup.',
      ),
    );
    return finish(null);
  }
  if (!g.lastContiguous) {
    findings.push(error('BACKUP_WAL_MISSING', `The backup's start segment ${g.firstGap?.name} is missing.`, 'Find the segment or use another backup.'));
    return finish(null);
  }
  const lc = await lastCommit(g);
  out.reach = lc.commit;
  const reachLsn = lc.commit?.lsn ?? null;
  if (g.firstGap) {
    findings.push(
      warn(
        'WAL_GAP',
        `WAL segment ${g.firstGap.name} is missing${g.missingCount > 1 ? ` (${g.missingCount} missing in all: ${g.missing.slice(0, 5).join(', ')}${g.missingCount > 5 ? ', …' : ''})` : ''}: replay stops at the end of ${g.lastContiguous.name}; the last reachable commit is ${lc.commit ? `${lc.commit.time} (LSN ${lc.commit.lsn})` : 'unknown'}.`,
        `Everything committed after that is lost from this source. Look for ${g.firstGap.name} in production's pg_wal or another archive copy, and always set a recovery target (without one, PostgreSQL silently promotes at the gap).`,
      ),
    );
  }
  if (!lc.commit) {
    findings.push(warn('REACH_UNKNOWN', `Could not read the newest commit time from ${g.lastContiguous.name}${lc.error ? `: ${lc.error}` : ''}.`));
  }
  // Against the incident target.
  let point: RecoveryPoint = {
    time: lc.commit?.time ?? null,
    lsn: reachLsn ?? null,
    xid: lc.commit?.xid ?? null,
    basis: g.firstGap ? 'last commit before the first WAL gap' : 'last archived commit',
  };
  const tgt = ctx.target;
  const tLsn = tgt?.firstLsn ?? tgt?.commitLsn;
  const tTime = targetTime(tgt);
  if (tgt && tLsn) {
    if (endLsn && Lsn.before(tLsn, endLsn)) {
      findings.push(error('TARGET_BEFORE_BACKUP_END', `The incident (${tLsn}) lies before this backup became consistent (${endLsn}): the backup is too new.`, 'Use an older base backup.'));
    } else if (lsnReachable(g, tLsn) && (!reachLsn || !Lsn.before(reachLsn, tLsn) || segnoOfLsn(tLsn) < g.lastContiguous.segno)) {
      out.reachesTarget = true;
      point = { time: tgt.time ?? point.time, lsn: tLsn, xid: null, basis: 'the incident target (the WAL reaches it)' };
    } else if (g.firstGap && segnoOfLsn(tLsn) >= g.firstGap.segno) {
      findings.push(warn('TARGET_UNREACHABLE', `The incident target ${tLsn} (in ${lsnSegmentName(g, tLsn)}) lies beyond missing segment ${g.firstGap.name}: recovery stops before it.`, 'The loss window below is what this source cannot bring back.'));
    } else {
      findings.push(warn('ARCHIVE_ENDS_BEFORE_TARGET', `The archive ends at ${g.endName} before the incident target ${tLsn} (${lsnSegmentName(g, tLsn)}).`, 'Production may not have archived it yet: run select pg_switch_wal() on production and probe again.'));
    }
  } else if (tgt && tTime !== null) {
    if (label.startTime && Date.parse(label.startTime) >= tTime) {
      findings.push(error('BACKUP_AFTER_TARGET', `The backup started ${label.startTime}, after the incident (${tgt.time}).`, 'Use an older base backup.'));
    } else if (lc.commit && Date.parse(lc.commit.time) >= tTime) {
      out.reachesTarget = true;
      point = { time: tgt.time!, lsn: null, xid: null, basis: 'the incident target (the WAL reaches it)' };
    } else if (g.firstGap) {
      findings.push(warn('TARGET_UNREACHABLE', `The incident (${tgt.time}) lies beyond missing segment ${g.firstGap.name}: recovery stops at ${lc.commit?.time ?? 'an unknown time'}.`));
    }
  }
  // Verification (started beside the checks above).
  findings.push(...(await verified()));
  findings.push(...checkAge(t, label.startTime ? new Date(label.startTime) : null, ctx.now, 'The base backup'));
  return finish(point);
}
