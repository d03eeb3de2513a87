// Probe a Barman server: its backups (list-backups, show-backup), `barman
// check` failures, the WAL it holds (its wals folder, listed read-only) with
// gaps, and the newest commit it can reach (barman get-wal + pg_waldump).
import type { SourceConfigOf } from '../../inventory/schema.js';
import pMap from 'p-map';
import { barmanJson, type BarmanOptions, barmanVerifyBackup } from '../../postgres/barman-programs.js';
import { Lsn } from '../../postgres/wal/lsn.js';
import { parseSegmentName, segnoOfLsn } from '../../postgres/wal/segments.js';
import type { Finding, ProbeContext, ProbeItem, ProbeResult, RecoveryPoint } from '../types.js';
import { backupSetResult } from '../common/backup-set-result.js';
import { error, firstLine, info, statusOf, warn } from '../common/findings.js';
import { targetTime } from '../common/loss.js';
import { checkAge, checkSize, thresholdsFor } from '../common/thresholds.js';
import { type ArchiveListing, analyzeGaps, lsnReachable } from '../common/wal-archive.js';
import type { LastCommit } from '../../postgres/wal/commits.js';
import { type BarmanBackup, parseBackupList, parseCheck, parseShowBackup, parseShowServer } from './catalog.js';
import { listBarmanWals, newestCommitUpTo } from './wal-files.js';

export const DEFAULT_BARMAN_USER = 'barman';

export function barmanOptions(config: SourceConfigOf<'barman'>, timeoutMs?: number): BarmanOptions {
  return { server: config.server, config: config.config, timeoutMs };
}

/** A failed barman run: not installed (127, or no process at all), or Barman's own error line. */
export function barmanFailure(r: { exitCode: number; stderr: string; stdout: string }, what: string): Finding {
  if (r.exitCode === 127 || r.exitCode === -1) return error('BARMAN_MISSING', 'barman is not installed here (or not on PATH).', 'Run undrop where Barman\'s catalog is (apt-get install barman), or fetch a backup by hand and describe it as a pitr source.');
  return error('BARMAN_FAILED', `barman ${what} failed (exit ${r.exitCode}): ${firstLine(r.stderr || r.stdout)}`, 'Check the server name and config path in undrop.yaml, and that Barman can read its catalog (barman list-backups SERVER).');
}

/** Backups as Barman lists them, with show-backup's details (FAILED ones included). */
export async function barmanBackups(opts: BarmanOptions): Promise<{ backups: BarmanBackup[]; failure?: Finding }> {
  const r = await barmanJson(opts, 'list-backups');
  if (r.exitCode !== 0) return { backups: [], failure: barmanFailure(r, 'list-backups') };
  let list: ReturnType<typeof parseBackupList>;
  try {
    list = parseBackupList(r.stdout, opts.server);
  } catch (e) {
    return { backups: [], failure: error('BARMAN_FAILED', `barman list-backups did not return JSON: ${(e as Error).message}`) };
  }
  // Each show-backup is a Python start (about a second on a busy host): a month of backups one after another
  // outlasted the probe's timeout. A few at once, in list order.
  const backups = await pMap(list, async (l): Promise<BarmanBackup> => {
    const s = await barmanJson(opts, 'show-backup', [l.id]);
    let b: BarmanBackup | null = null;
    try {
      b = s.exitCode === 0 ? parseShowBackup(s.stdout, opts.server) : null;
    } catch {
      b = null;
    }
    return b ?? { id: l.id, status: l.status, beginTime: null, endTime: l.endTime, beginLsn: null, endLsn: null, beginWal: null, endWal: null, timeline: 1, sizeBytes: l.sizeBytes, error: null, tablespaces: l.tablespaces };
  }, { concurrency: 4 });
  return { backups };
}

async function serverFindings(opts: BarmanOptions): Promise<{ findings: Finding[]; walsDir: string | null }> {
  const findings: Finding[] = [];
  // Two Python starts: side by side.
  const [c, s] = await Promise.all([barmanJson(opts, 'check'), barmanJson(opts, 'show-server')]);
  try {
    for (const f of parseCheck(c.stdout, opts.server)) {
      // Failed backups are reported on each backup; a stopped production fails "PostgreSQL" checks, which is no reason to distrust the backups.
      if (f.check === 'failed backups') continue;
      findings.push(warn('BARMAN_CHECK_FAILED', `barman check: ${f.check} FAILED${f.hint ? ` (${f.hint})` : ''}.`, 'Barman may not be receiving new backups or WAL; the backups and WAL it holds are judged below.'));
    }
  } catch {
    if (c.exitCode !== 0) findings.push(warn('BARMAN_CHECK_FAILED', `barman check failed (exit ${c.exitCode}): ${firstLine(c.stderr || c.stdout)}`));
  }
  let walsDir: string | null = null;
  try {
    walsDir = s.exitCode === 0 ? parseShowServer(s.stdout, opts.server).walsDirectory : null;
  } catch {
    walsDir = null;
  }
  return { findings, walsDir };
}

export async function probeBarman(config: SourceConfigOf<'barman'>, ctx: ProbeContext): Promise<ProbeResult> {
  const started = Date.now();
  const t = thresholdsFor(config);
  const sourceFindings: Finding[] = [];
  const opts = barmanOptions(config, Math.max(ctx.timeoutMs, 10_000));
  const user = config.barman_user ?? DEFAULT_BARMAN_USER;
  let reachesTarget = false;
  const done = (items: ProbeItem[]): ProbeResult => backupSetResult(config, ctx, started, items, sourceFindings, reachesTarget);

  // The catalog and the server's state are independent: read side by side.
  const serverP = serverFindings(opts);
  serverP.catch(() => undefined);
  const { backups, failure } = await barmanBackups(opts);
  if (failure) {
    await serverP.catch(() => undefined); // no barman left running
    sourceFindings.push(failure);
    return done([]);
  }
  const server = await serverP;
  sourceFindings.push(...server.findings);
  let listing: ArchiveListing | null = null;
  if (server.walsDir) {
    listing = await listBarmanWals(server.walsDir).catch(() => null);
    if (!listing) sourceFindings.push(warn('WAL_LIST_FAILED', `Could not list Barman's WAL folder ${server.walsDir}.`, 'Run undrop as a user that can read Barman\'s home (root, or the barman user).'));
  } else sourceFindings.push(warn('WAL_LIST_FAILED', 'barman show-server did not name the server\'s WAL folder.'));
  const done_ = backups.filter((b) => b.status === 'DONE').length;
  sourceFindings.push(info('BARMAN_CATALOG', `Barman server "${config.server}": ${backups.length} backup(s), ${done_} DONE.`));
  if (backups.length === 0) sourceFindings.push(error('NO_BACKUPS', `Barman server "${config.server}" has no backup.`, `Run barman backup ${config.server}.`));

  // The newest commit before each distinct end of reachable WAL, fetched once.
  const commits = new Map<string, Promise<{ commit: LastCommit | null; note: string | null }>>();
  const commitUpTo = (last: string, first: string) => {
    let p = commits.get(last);
    if (!p) commits.set(last, (p = newestCommitUpTo(opts, user, ctx.workDir, last, first)));
    return p;
  };
  const tgt = ctx.target;
  const tTime = targetTime(tgt);
  const tLsn = tgt?.firstLsn ?? tgt?.commitLsn;

  const items: ProbeItem[] = [];
  for (const b of backups) {
    const f: Finding[] = [info('BACKUP', `Barman backup ${b.id} (${b.status}), ${b.beginTime ?? '?'} … ${b.endTime ?? '?'}, LSN ${b.beginLsn ?? '?'} … ${b.endLsn ?? '?'}, WAL ${b.beginWal ?? '?'} … ${b.endWal ?? '?'}.`)];
    const item = (point: RecoveryPoint | null): ProbeItem => ({ label: b.id, status: statusOf(f), recoveryPoint: point, ...(b.sizeBytes !== null ? { sizeBytes: b.sizeBytes } : {}), findings: f, backupStatus: b.status });
    if (b.status === 'FAILED') {
      f.push(error('BACKUP_FAILED', `Barman marked backup ${b.id} FAILED${b.error ? `: ${b.error}` : ''}.`, `It cannot be restored; use another backup, and look at Barman's log for why (then barman delete ${config.server} ${b.id}).`));
      items.push(item(null));
      continue;
    }
    if (b.status !== 'DONE' && b.status !== 'WAITING_FOR_WALS') {
      f.push(error('BACKUP_INCOMPLETE', `Barman backup ${b.id} is ${b.status}, not DONE.`, 'A backup still running or never finished cannot be restored; use another one.'));
      items.push(item(null));
      continue;
    }
    if (b.status === 'WAITING_FOR_WALS') f.push(warn('BACKUP_WAITING_FOR_WALS', `Barman has not yet received every WAL file backup ${b.id} needs (status WAITING_FOR_WALS).`, 'Barman marks it DONE once they arrive (barman cron); check that WAL still reaches Barman.'));
    if (ctx.deep) {
      const v = await barmanVerifyBackup({ ...opts, timeoutMs: 600_000 }, b.id);
      if (v.exitCode === 0) f.push(info('BARMAN_VERIFIED', `barman verify-backup: backup ${b.id} matches its manifest.`));
      else f.push(error('BACKUP_VERIFY_FAILED', `barman verify-backup failed for ${b.id}: ${firstLine((v.stdout + v.stderr).split('\n').filter((l) => /error|missing|mismatch|fail|not/i.test(l)).join('; ') || v.stderr || v.stdout)}`, 'Files of this backup are missing or changed; use another backup.'));
    }
    f.push(...checkAge(t, b.endTime ? new Date(b.endTime) : null, ctx.now, 'The backup'), ...checkSize(t, b.sizeBytes, 'The backup'));
    if (!listing || !b.beginLsn) {
      f.push(warn('REACH_UNKNOWN', 'The WAL Barman holds after this backup could not be read.'));
      items.push(item({ time: b.endTime, lsn: b.endLsn, basis: 'backup end (WAL unknown)' }));
      continue;
    }
    const g = analyzeGaps(listing, b.timeline, b.beginLsn);
    // The segment the backup ends in (end_lsn on a segment boundary belongs to the segment before).
    const needEnd = b.endWal ? parseSegmentName(b.endWal).segno : b.endLsn ? segnoOfLsn(b.endLsn) : null;
    if (!g.lastContiguous || (needEnd !== null && g.firstGap !== null && g.firstGap.segno <= needEnd)) {
      f.push(error('BACKUP_WAL_MISSING', `WAL segment ${g.firstGap?.name ?? '?'}, needed to make backup ${b.id} consistent${b.endLsn ? ` (up to ${b.endLsn})` : ''}, is missing from Barman: it cannot be restored.`, 'Find the segment (production pg_wal, another copy) or use another backup.'));
      items.push(item(null));
      continue;
    }
    const lc = await commitUpTo(g.lastContiguous.name, b.beginWal ?? g.lastContiguous.name);
    if (g.firstGap) {
      f.push(
        warn(
          'WAL_GAP',
          `WAL segment ${g.firstGap.name} is missing from Barman${g.missingCount > 1 ? ` (${g.missingCount} missing in all: ${g.missing.slice(0, 5).join(', ')}${g.missingCount > 5 ? ', …' : ''})` : ''}: replay stops at the end of ${g.lastContiguous.name}; the last reachable commit is ${lc.commit ? `${lc.commit.time} (LSN ${lc.commit.lsn})` : 'unknown'}.`,
          `Everything committed after that is lost from this source. Look for ${g.firstGap.name} in production's pg_wal or another copy; an explicit target is always set (PostgreSQL would silently promote at the gap).`,
        ),
      );
    }
    if (!lc.commit) f.push(warn('REACH_UNKNOWN', `Could not read the newest commit Barman holds${lc.note ? ` (${lc.note})` : ''}.`));
    let point: RecoveryPoint = lc.commit
      ? { time: lc.commit.time, lsn: lc.commit.lsn, xid: lc.commit.xid, basis: g.firstGap ? 'last commit before the first WAL gap' : 'last commit Barman holds' }
      : { time: b.endTime, lsn: b.endLsn, basis: 'backup end (WAL end unknown)' };
    if (tgt) {
      const after = (tLsn && b.endLsn && Lsn.before(tLsn, b.endLsn)) || (!tLsn && tTime !== null && b.endTime !== null && Date.parse(b.endTime) >= tTime);
      if (after) f.push(error('BACKUP_AFTER_TARGET', `Backup ${b.id} ends after the incident; it cannot stop before it.`, 'Use an older backup (--set).'));
      else if (tLsn && !g.firstGap && segnoOfLsn(tLsn) > g.lastContiguous.segno) {
        f.push(warn('ARCHIVE_ENDS_BEFORE_TARGET', `Barman's WAL ends at ${g.lastContiguous.name}, before the incident target ${tLsn}.`, `Production may not have sent it yet (barman switch-wal --force --archive ${config.server}).`));
      } else if (tLsn ? lsnReachable(g, tLsn) && (!lc.commit || !Lsn.before(lc.commit.lsn, tLsn) || segnoOfLsn(tLsn) < g.lastContiguous.segno) : tTime !== null && !!lc.commit && Date.parse(lc.commit.time) >= tTime) {
        point = { time: tgt.time ?? null, lsn: tLsn ?? null, basis: 'the incident target (the WAL reaches it)' };
        reachesTarget = true;
      }
    }
    f[0] = info('BACKUP', `${f[0]!.message} WAL held up to ${g.lastContiguous.name}${g.firstGap ? ` (gap at ${g.firstGap.name})` : ''}.`);
    items.push(item(point));
  }
  return done(items);
}
