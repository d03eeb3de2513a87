// Probe a pgBackRest stanza: info (backups, archive range), the newest
// archived commit (archive-get of the last segment + pg_waldump), and under
// --deep `pgbackrest verify`.
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../../errors.js';
import type { SourceConfigOf } from '../../inventory/schema.js';
import { findBinaries } from '../../postgres/binaries.js';
import { Lsn } from '../../postgres/wal/lsn.js';
import { parseSegmentName, segmentName, segnoOfLsn } from '../../postgres/wal/segments.js';
import { chownForServer } from '../../postgres/os-user.js';
import { pgbackrestArchiveGet, pgbackrestVerify } from '../../postgres/programs.js';
import { stanzaInfo } from './info-recent.js';
import type { Finding, ProbeContext, ProbeItem, ProbeResult, RecoveryPoint } from '../types.js';
import { backupSetResult } from '../common/backup-set-result.js';
import { error, firstLine, info, statusOf, warn } from '../common/findings.js';
import { targetTime } from '../common/loss.js';
import { makeStage, removeStage } from '../../postgres/work-dir.js';
import { checkAge, thresholdsFor } from '../common/thresholds.js';
import { type LastCommit, lastCommitInSegments } from '../../postgres/wal/commits.js';
import { type PgbrStanza, parsePgbackrestInfo } from './info.js';

async function newestCommit(config: SourceConfigOf<'pgbackrest'>, st: PgbrStanza, ctx: ProbeContext): Promise<{ commit: LastCommit | null; note: string | null }> {
  if (!st.archiveMax) return { commit: null, note: 'no archived WAL' };
  const dir = await makeStage(ctx.workDir, 'probe-pgbr');
  try {
    await chmod(dir, 0o700);
    await chownForServer(dir, false);
    const max = parseSegmentName(st.archiveMax);
    const major = st.pgVersion ? parseInt(st.pgVersion, 10) : undefined;
    const bin = await findBinaries(major).catch(() => findBinaries());
    const names: string[] = [];
    let last: { commit: LastCommit | null; error: string | null } = { commit: null, error: null };
    // The newest segments can hold no commit at all (each backup ends with a WAL switch):
    // read the last two, then further back, before saying the reach is unknown.
    for (const back of [1n, 7n]) {
      const batch: string[] = [];
      for (let s = max.segno - back; s <= max.segno; s++) {
        const name = s < 0n ? null : segmentName(max.timeline, s);
        if (name && !names.includes(name)) batch.push(name);
      }
      // at once: each archive-get is a program start (and a round trip to the repository)
      const got = await Promise.all(batch.map(async (name) => ((await pgbackrestArchiveGet({ stanza: config.stanza, config: config.config, repo: config.repo, timeoutMs: 30_000 }, name, join(dir, name))).exitCode === 0 ? name : null)));
      names.push(...got.filter((n): n is string => n !== null));
      if (names.length === 0) return { commit: null, note: `archive-get of ${st.archiveMax} failed` };
      names.sort();
      const r = await lastCommitInSegments(bin, dir, names[0]!, names[names.length - 1]!, 30_000);
      last = { commit: r.commit, error: r.error ?? null };
      if (r.commit) break;
    }
    return { commit: last.commit, note: last.error };
  } finally {
    removeStage(dir);
  }
}

export async function probePgbackrest(config: SourceConfigOf<'pgbackrest'>, ctx: ProbeContext): Promise<ProbeResult> {
  const started = Date.now();
  const t = thresholdsFor(config);
  const sourceFindings: Finding[] = [];
  const opts = { stanza: config.stanza, config: config.config, repo: config.repo, timeoutMs: Math.max(ctx.timeoutMs, 10_000) };
  const done = (items: ProbeItem[], reachesTarget = false): ProbeResult => backupSetResult(config, ctx, started, items, sourceFindings, reachesTarget);
  const r = await stanzaInfo(opts, 5_000); // locate's scan, started at the same time, may have asked already
  if (r.exitCode !== 0) {
    sourceFindings.push(
      error('PGBACKREST_FAILED', `pgbackrest info failed (exit ${r.exitCode}): ${firstLine(r.stderr || r.stdout)}`, 'Check that pgbackrest is installed, the stanza name and config path, and that the postgres OS user can read the repository.'),
    );
    return done([]);
  }
  let st: PgbrStanza | null;
  try {
    st = parsePgbackrestInfo(r.stdout, config.stanza);
  } catch (e) {
    sourceFindings.push(error('PGBACKREST_BAD_OUTPUT', `Cannot parse pgbackrest info output: ${errorMessage(e)}`));
    return done([]);
  }
  if (!st) {
    sourceFindings.push(error('PGBACKREST_NO_STANZA', `Stanza "${config.stanza}" is not in the repository.`, 'Check the stanza name (pgbackrest info lists them).'));
    return done([]);
  }
  if (st.statusCode !== 0) {
    sourceFindings.push(error('PGBACKREST_STANZA_ERROR', `Stanza "${st.name}": ${st.statusMessage} (status ${st.statusCode}).`, 'Run pgbackrest info --stanza by hand for details.'));
  }
  if (ctx.productionSystemId && st.systemId && st.systemId !== ctx.productionSystemId) {
    sourceFindings.push(error('PGBACKREST_OTHER_CLUSTER', `The stanza backs up another cluster (system identifier ${st.systemId}, production's is ${ctx.productionSystemId}).`, 'Check the stanza name.'));
  }
  sourceFindings.push(info('PGBACKREST_ARCHIVE', `Archive ${st.archiveMin ?? '?'} … ${st.archiveMax ?? '?'}; ${st.backups.length} backup(s).`));
  const { commit, note } = await newestCommit(config, st, ctx);
  if (!commit) sourceFindings.push(warn('REACH_UNKNOWN', `Could not read the newest archived commit${note ? ` (${note})` : ''}.`));
  if (ctx.deep) {
    const v = await pgbackrestVerify(opts);
    if (v.exitCode === 0) sourceFindings.push(info('PGBACKREST_VERIFIED', 'pgbackrest verify: no problem found.'));
    else {
      const lines = (v.stdout + v.stderr).split('\n').filter((l) => /ERROR|WARN|missing|invalid/i.test(l));
      sourceFindings.push(error('PGBACKREST_VERIFY_FAILED', `pgbackrest verify failed: ${firstLine(lines.join('\n') || v.stderr)}`, 'Missing or corrupt files in the repository; see pgbackrest verify output.'));
    }
  }
  const tgt = ctx.target;
  const tTime = targetTime(tgt);
  const tLsn = tgt?.firstLsn ?? tgt?.commitLsn;
  let reachesTarget = false;
  const items: ProbeItem[] = st.backups.map((b) => {
    const f: Finding[] = [info('BACKUP', `${b.type} backup ${b.label}, ${b.startTime ?? '?'} … ${b.stopTime ?? '?'}, LSN ${b.startLsn ?? '?'} … ${b.stopLsn ?? '?'}.`)];
    if (b.error) f.push(error('BACKUP_ERROR', 'pgBackRest flagged page checksum errors in this backup.', 'Run pgbackrest verify; use another backup.'));
    let point: RecoveryPoint | null = commit ? { time: commit.time, lsn: commit.lsn, xid: commit.xid, basis: 'last archived commit' } : { time: b.stopTime, lsn: b.stopLsn, basis: 'backup stop (archive end unknown)' };
    if (tgt) {
      const after = (tLsn && b.stopLsn && Lsn.before(tLsn, b.stopLsn)) || (tTime !== null && b.startTime && Date.parse(b.startTime) >= tTime);
      if (after) f.push(error('BACKUP_AFTER_TARGET', 'This backup ends after the incident; it cannot stop before it.', 'Use an older backup.'));
      else if (tLsn && st.archiveMax && segnoOfLsn(tLsn) > parseSegmentName(st.archiveMax).segno) {
        f.push(warn('ARCHIVE_ENDS_BEFORE_TARGET', `The archive ends at ${st.archiveMax}, before the incident target ${tLsn}.`, 'Production may not have archived it yet (select pg_switch_wal()).'));
      } else if (commit && (tLsn ? !Lsn.before(commit.lsn, tLsn) || segnoOfLsn(tLsn) < parseSegmentName(st.archiveMax!).segno : tTime !== null && Date.parse(commit.time) >= tTime)) {
        point = { time: tgt.time ?? null, lsn: tLsn ?? null, basis: 'the incident target (the WAL reaches it)' };
        reachesTarget = true;
      }
    }
    f.push(...checkAge(t, b.stopTime ? new Date(b.stopTime) : null, ctx.now, 'The backup'));
    return { label: b.label, status: statusOf(f), recoveryPoint: point, ...(b.sizeBytes !== null ? { sizeBytes: b.sizeBytes } : {}), findings: f };
  });
  if (st.backups.length === 0) sourceFindings.push(error('NO_BACKUPS', `Stanza "${st.name}" has no backup.`, 'Run pgbackrest backup.'));
  return done(items, reachesTarget);
}
