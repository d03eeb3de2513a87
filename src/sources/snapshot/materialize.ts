// Snapshot → temporary instance: copy the snapshot's data directory (never
// start or modify the snapshot itself), make the copy safe (archive off, no
// primary_conninfo, no standby.signal, slots removed), start it, let crash
// recovery finish. The recovery point is the last commit in the copy's WAL.
// As for a base backup, only what the lost tables need is copied when that is
// certainly safe (materialize/selective/): the other databases, and inside
// theirs the other user tables' files, become sparse files. A SAN snapshot of
// a multi-terabyte cluster is then copied in the size of its catalogs and the
// lost tables, not of the cluster. Of pg_wal, only the segments crash
// recovery reads are copied (crash-recovery-wal.ts): a busy server keeps up to
// max_wal_size of recycled segments there.
import { existsSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { SourceConfigOf } from '../../inventory/schema.js';
import { dataDirMajor, findBinaries, type PgBinaries } from '../../postgres/binaries.js';
import { absolutizeLinks } from '../../postgres/data-copy.js';
import { TempInstance } from '../../postgres/instance.js';
import { phase } from '../../postgres/phases.js';
import { ASIDE_NOTE } from '../../postgres/server-config.js';
import { pgControldata } from '../../postgres/programs.js';
import { lastCommitInWal } from '../../postgres/wal/commits.js';
import { type CrashRecoveryWal, crashRecoveryWal } from '../../postgres/wal/crash-recovery-wal.js';
import { formatBytes } from '../../util/time.js';
import { removeStage } from '../../postgres/work-dir.js';
import { chooseItem } from '../materialize/choose.js';
import { assertDiskSpace, diskUsage, copyTables } from '../materialize/preflight.js';
import { decidePlain, scopeText, selectiveStillHolds } from '../materialize/selective/decide.js';
import { plainSelectiveBytes, type SelectivePlan, selectiveNote, stagePlainSelective, treeBytes } from '../materialize/selective/plan.js';
import type { Materialized, MaterializeRequest, ProbeResult } from '../types.js';

/** Both names of the source, and what was brought inside the copy. */
export function copyNote(dir: string, inst: TempInstance, resolved = inst.copyRecord?.resolved): string {
  const r = inst.copyRecord;
  const parts = [`Started a copy of ${dir}${resolved && resolved !== dir ? ` (which resolves to ${resolved})` : ''}; the snapshot itself was not modified.`];
  if (r?.walFrom) parts.push(`Its pg_wal is a link to ${r.walFrom}: the segments were copied, the link not followed at run time.`);
  for (const t of r?.tablespaces ?? []) parts.push(`Tablespace ${t.oid} (${t.from}) was copied into the work directory.`);
  return parts.join(' ');
}

interface LaidOut {
  /** The data directory to start: the snapshot itself (copied whole by the instance) or a selective stage. */
  source: string;
  copy: boolean;
  plan?: SelectivePlan;
  notes: string[];
}

/**
 * The snapshot, laid out selectively when allowed and certain, else as it is (copied whole). Defaults as for a
 * base backup: relations, but the database level for a kept instance (someone may read its other tables).
 */
async function layOut(dir: string, bin: PgBinaries, req: MaterializeRequest, label: string, wal: CrashRecoveryWal | undefined, progress: (m: string) => void): Promise<LaidOut> {
  const level = req.selective ?? (req.keep ? 'database' : 'relations');
  const walKeep = wal ? { walKeep: wal.keep } : {};
  const whole = async (notes: string[]): Promise<LaidOut> => {
    const size = (await diskUsage(dir)) - (wal?.skippedBytes ?? 0);
    await assertDiskSpace(req.workDir, size, `Copying snapshot ${label}`);
    progress(`copying ${dir} (${Math.round(size / 1e6)} MB) into the work directory`);
    return { source: dir, copy: true, notes };
  };
  if (level === 'off') return whole([]);
  const real = await realpath(dir);
  const notes: string[] = [];
  const d = await phase('snapshot: plan the copy (selective)', () => decidePlain(real, bin, req, level === 'relations', notes, 'snapshot'));
  if (!d.selective) return whole([...notes, `Full copy (not selective): ${d.reason}.`]);
  // pg_wal counted as what is copied of it (plainSelectiveBytes counts a folder whole, a link not at all)
  const bytes = (await plainSelectiveBytes(real, d.plan)) - (await treeBytes(join(real, 'pg_wal'))) + (wal ? wal.keptBytes : await diskUsage(join(real, 'pg_wal')));
  await assertDiskSpace(req.workDir, bytes, `Copying snapshot ${label} (selective)`);
  progress(`copying ${dir} selectively (${Math.round(bytes / 1e6)} MB): ${scopeText(d.plan)}`);
  const { dataDir, stats } = await phase('snapshot: copy the data directory (selective)', async () => {
    const staged = await stagePlainSelective(real, req.workDir, d.plan, walKeep);
    await absolutizeLinks(staged.dataDir, real);
    return staged;
  });
  return { source: dataDir, copy: false, plan: d.plan, notes: [...notes, selectiveNote(d.plan, stats, stats.fullBytes + stats.sparseBytes)] };
}

/** What of the snapshot's pg_wal (followed through a link) crash recovery reads; undefined (copy it all) when pg_control does not say enough. */
async function walToCopy(dir: string, control: Record<string, string>): Promise<CrashRecoveryWal | undefined> {
  const redo = control["Latest checkpoint's REDO location"];
  const systemId = control['Database system identifier'];
  const segmentSize = Number(control['Bytes per WAL segment']);
  if (!redo || !systemId || !Number.isInteger(segmentSize) || segmentSize <= 0) return undefined;
  const walDir = await realpath(join(dir, 'pg_wal')).catch(() => undefined);
  if (!walDir) return undefined;
  return crashRecoveryWal(walDir, { redo, systemId, segmentSize, backupLabel: existsSync(join(dir, 'backup_label')) });
}

function walNote(wal: CrashRecoveryWal): string {
  return `Of pg_wal, ${wal.skipped.length} segment(s) (${formatBytes(wal.skippedBytes)}) that crash recovery never reads were not copied: recycled ones, whose first page names another segment, and any before the checkpoint's redo point.`;
}

export async function materializeSnapshot(config: SourceConfigOf<'snapshot'>, req: MaterializeRequest, probe: ProbeResult): Promise<Materialized> {
  const item = chooseItem(probe, req.target, req.set);
  const dir = item.path!;
  const progress = req.onProgress ?? (() => {});
  const bin = await findBinaries(await dataDirMajor(dir));
  const control = await pgControldata(bin, dir);
  const redo = control["Latest checkpoint's REDO location"];
  const wal = await phase('snapshot: read pg_wal (what crash recovery reads)', () => walToCopy(dir, control));
  const laid = await layOut(dir, bin, req, item.label, wal, progress);
  let inst: TempInstance;
  try {
    inst = await TempInstance.fromDataDir(laid.source, {
      bin,
      workDir: req.workDir,
      name: 'snapshot',
      keep: req.keep,
      superuser: config.superuser,
      copy: laid.copy,
      ...(wal ? { walKeep: wal.keep } : {}),
      // A worker connecting to a left-out (sparse) database would only fail: keep them out.
      ...(laid.plan ? { settings: { autovacuum: false } } : {}),
    });
  } finally {
    if (!laid.copy) removeStage(dirname(laid.source));
  }
  try {
    // Read the copy's WAL, not the snapshot's, before crash recovery rewrites it.
    const last = redo ? await lastCommitInWal(bin, join(inst.dataDir, 'pg_wal'), redo) : undefined;
    progress('starting the copy; crash recovery replays the WAL since the last checkpoint');
    await inst.start();
    // The plan must still hold once crash recovery has replayed what came after the snapshot's checkpoint.
    const again = laid.plan ? await selectiveStillHolds(inst, req.database, req.tables, laid.plan, 'the snapshot') : undefined;
    if (again) {
      await inst.destroy();
      const m = await materializeSnapshot(config, { ...req, selective: again.level }, probe);
      m.notes.unshift(again.note);
      return m;
    }
    const conn = inst.connParams(req.database);
    const { tables, rowsPending } = await copyTables(conn, req, `Snapshot ${item.label}`, inst.name);
    return {
      ...(rowsPending ? { rowsPending } : {}),
      instance: inst,
      conn,
      database: req.database,
      recoveryPoint: last
        ? { time: last.time, lsn: last.lsn, xid: last.xid, basis: 'last commit in the snapshot\'s WAL' }
        : { time: item.recoveryPoint?.time ?? null, lsn: item.recoveryPoint?.lsn ?? null, basis: item.recoveryPoint?.basis ?? 'snapshot time' },
      tables,
      notes: [laid.copy ? copyNote(dir, inst) : copyNote(dir, inst, await realpath(dir)), ...laid.notes, ...(wal?.skipped.length ? [walNote(wal)] : []), ...(inst.sourceConfig ? [ASIDE_NOTE(inst.sourceConfig)] : [])],
      release: () => inst.destroy(),
    };
  } catch (e) {
    await inst.destroy();
    throw e;
  }
}
