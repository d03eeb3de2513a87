// Probe a snapshot source: each matching path is a data directory as of its
// snapshot. Read-only: PG_VERSION, pg_controldata, a few file names and mtimes.
import { existsSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../../errors.js';
import type { SourceConfigOf } from '../../inventory/schema.js';
import { findBinaries } from '../../postgres/binaries.js';
import { isSegmentName } from '../../postgres/wal/segments.js';
import { pgControldata } from '../../postgres/programs.js';
import type { Finding, ProbeContext, ProbeItem, ProbeResult } from '../types.js';
import { aggregateItems } from '../common/aggregate.js';
import { fsErrorText } from '../common/files.js';
import { error, firstLine, info, statusOf, warn } from '../common/findings.js';
import { lossWindowMs, targetTime } from '../common/loss.js';
import { expandPatterns } from '../common/paths.js';
import { type Thresholds, checkAge, thresholdsFor } from '../common/thresholds.js';
import { type ControlSummary, summarizeControldata, timeFromPath } from './controldata.js';

export interface SnapshotProbe {
  item: ProbeItem;
  major: number | null;
  control: ControlSummary | null;
}

async function newestWalMtime(dataDir: string): Promise<Date | null> {
  try {
    const dir = join(dataDir, 'pg_wal');
    let newest: Date | null = null;
    for (const n of await readdir(dir)) {
      if (!isSegmentName(n)) continue;
      const s = await stat(join(dir, n));
      if (!newest || s.mtime > newest) newest = s.mtime;
    }
    return newest;
  } catch {
    return null;
  }
}

export async function probeSnapshotDir(path: string, ctx: ProbeContext, t: Thresholds): Promise<SnapshotProbe> {
  const findings: Finding[] = [];
  const out = (point: ProbeItem['recoveryPoint'], major: number | null = null, control: ControlSummary | null = null): SnapshotProbe => ({
    item: { label: path, path, status: statusOf(findings), recoveryPoint: point, findings },
    major,
    control,
  });
  let versionText: string;
  try {
    versionText = await readFile(join(path, 'PG_VERSION'), 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    findings.push(
      code === 'ENOENT' || code === 'ENOTDIR'
        ? error('NOT_A_DATA_DIR', `${path} is not a PostgreSQL data directory (no PG_VERSION).`, 'Point the snapshot paths at the folder holding PG_VERSION, base/ and global/ inside each snapshot.')
        : error('FILE_UNREADABLE', `Cannot read ${path}/PG_VERSION: ${fsErrorText(e)}.`, 'undrop needs read access to the snapshot.'),
    );
    return out(null);
  }
  const major = parseInt(versionText.trim(), 10);
  if (!Number.isFinite(major)) {
    findings.push(error('NOT_A_DATA_DIR', `${path}/PG_VERSION holds "${versionText.trim()}", not a version.`));
    return out(null);
  }
  let bin;
  try {
    bin = await findBinaries(major);
  } catch {
    findings.push(error('SERVER_PROGRAMS_MISSING', `The snapshot is PostgreSQL ${major}, and no PostgreSQL ${major} server programs are installed here.`, `Install postgresql-${major} (or point --pg-bin at its bin folder); a snapshot can only be started by its own major version.`));
    return out(null, major);
  }
  let control: ControlSummary;
  try {
    control = summarizeControldata(await pgControldata(bin, path));
  } catch (e) {
    const details = (e as { details?: string[] }).details ?? [];
    findings.push(error('CONTROLDATA_FAILED', `pg_controldata cannot read the snapshot: ${firstLine(details.join('\n') || errorMessage(e))}`, 'global/pg_control is missing or damaged: the snapshot is incomplete.'));
    return out(null, major);
  }
  // Same cluster as production?
  if (ctx.productionSystemId && control.systemIdentifier) {
    if (ctx.productionSystemId !== control.systemIdentifier) {
      findings.push(
        error(
          'SNAPSHOT_OTHER_CLUSTER',
          `This snapshot is of another cluster: system identifier ${control.systemIdentifier}, production's is ${ctx.productionSystemId}.`,
          'Check the snapshot paths: this is not a copy of production (a staging server, another database host).',
        ),
      );
    }
  } else if (control.systemIdentifier) {
    findings.push(info('SYSTEM_ID_UNCHECKED', `System identifier ${control.systemIdentifier}; production was not reachable to compare.`));
  }
  switch (control.state) {
    case 'in production':
      findings.push(info('CRASH_RECOVERY_NEEDED', 'Taken from a running server: crash recovery will replay its WAL on start (normal for a snapshot).'));
      break;
    case 'shut down':
      findings.push(info('CLEAN_SHUTDOWN', 'Taken from a cleanly stopped server.'));
      break;
    case 'in archive recovery':
    case 'shut down in recovery':
      findings.push(info('STANDBY_STATE', `Cluster state "${control.state}": a standby's or a recovering server's data directory.`));
      break;
    default:
      if (control.state) findings.push(warn('UNUSUAL_STATE', `Cluster state "${control.state}".`, 'The snapshot may have been taken during a crash or a restore; starting a copy will show whether it recovers.'));
  }
  if (existsSync(join(path, 'standby.signal'))) {
    findings.push(info('STANDBY_SNAPSHOT', 'A standby\'s snapshot (standby.signal present); the copy is started without it, as a plain server.'));
  }
  if (control.redoWalFile && !existsSync(join(path, 'pg_wal', control.redoWalFile))) {
    findings.push(
      error('SNAPSHOT_WAL_MISSING', `The WAL file crash recovery starts from (${control.redoWalFile}) is not in the snapshot's pg_wal.`, 'The snapshot is not crash-consistent (pg_wal on another volume?). Snapshot pg_wal together with the data.'),
    );
  }
  // Snapshot time: from the path, else the newest WAL file's mtime, else the checkpoint time (lower bound).
  let time: string | null = timeFromPath(path);
  let basis = 'snapshot time from the path';
  if (!time) {
    const m = await newestWalMtime(path);
    if (m) {
      time = m.toISOString();
      basis = 'newest WAL file modification time';
    }
  }
  if (!time && control.checkpointTime) {
    time = control.checkpointTime;
    basis = 'latest checkpoint time (lower bound)';
  }
  findings.push(
    info(
      'SNAPSHOT_TIME',
      `Snapshot time ${time ?? 'unknown'} (${basis}); latest checkpoint ${control.checkpointTime ?? 'unknown'}, REDO ${control.redoLsn ?? '?'}, timeline ${control.timeline ?? '?'}.`,
    ),
  );
  const tt = targetTime(ctx.target);
  const lower = control.checkpointTime ? Date.parse(control.checkpointTime) : null;
  if (tt !== null && ((time && Date.parse(time) >= tt) || (lower !== null && lower >= tt))) {
    findings.push(
      error('AFTER_TARGET', `The snapshot was taken after the incident (${ctx.target?.time}); starting it replays the destructive transaction.`, 'Use an older snapshot, or a PITR source that can stop before the incident.'),
    );
  }
  findings.push(...checkAge(t, time ? new Date(time) : null, ctx.now, 'The snapshot'));
  return out({ time, lsn: null, basis }, major, control);
}

export async function probeSnapshot(config: SourceConfigOf<'snapshot'>, ctx: ProbeContext): Promise<ProbeResult> {
  const started = Date.now();
  const t = thresholdsFor(config);
  const paths = await expandPatterns(config.paths);
  const sourceFindings: Finding[] = [];
  if (paths.length === 0) sourceFindings.push(error('NO_SNAPSHOTS_FOUND', `No path matches ${config.paths.join(', ')}.`, 'Check the paths in undrop.yaml (mount the snapshots first).'));
  const snaps = await Promise.all(
    paths.map((p) =>
      probeSnapshotDir(p, ctx, t).catch(
        (e): SnapshotProbe => ({ item: { label: p, path: p, status: 'unusable', recoveryPoint: null, findings: [error('PROBE_FAILED', errorMessage(e))] }, major: null, control: null }),
      ),
    ),
  );
  const agg = aggregateItems(
    snaps.map((s) => s.item),
    sourceFindings,
    'snapshot',
  );
  return {
    name: config.name,
    kind: 'snapshot',
    status: agg.status,
    recoveryPoint: agg.recoveryPoint,
    tables: [],
    findings: agg.findings,
    items: agg.items,
    lossWindowMs: lossWindowMs(agg.recoveryPoint, ctx.target),
    timeLeftMs: null,
    estimatedMaterializeMs: agg.chosen ? 5_000 : null,
    durationMs: Date.now() - started,
  };
}
