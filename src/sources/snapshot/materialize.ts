// Snapshot → temporary instance: copy the snapshot's data directory (never
// start or modify the snapshot itself), make the copy safe (archive off, no
// primary_conninfo, no standby.signal, slots removed), start it, let crash
// recovery finish. The recovery point is the last commit in the copy's WAL.
// As for a base backup, only what the lost tables need is copied when that is
// certainly safe (materialize/selective/): the other databases, and inside
// theirs the other user tables' files, become sparse files. A SAN snapshot of
// a multi-terabyte cluster is then copied in the size of its catalogs and the
// lost tables, not of the cluster.
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
import { removeStage } from '../../postgres/work-dir.js';
import { chooseItem } from '../materialize/choose.js';
import { assertDiskSpace, diskUsage, copyTables } from '../materialize/preflight.js';
import { decidePlain, scopeText, selectiveStillHolds } from '../materialize/selective/decide.js';
import { plainSelectiveBytes, type SelectivePlan, selectiveNote, stagePlainSelective } from '../materialize/selective/plan.js';
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
async function layOut(dir: string, bin: PgBinaries, req: MaterializeRequest, label: string, progress: (m: string) => void): Promise<LaidOut> {
  const level = req.selective ?? (req.keep ? 'database' : 'relations');
  const whole = async (notes: string[]): Promise<LaidOut> => {
    const size = await diskUsage(dir);
    await assertDiskSpace(req.workDir, size, `Copying snapshot ${label}`);
    progress(`copying ${dir} (${Math.round(size / 1e6)} MB) into the work directory`);
    return { source: dir, copy: true, notes };
  };
  if (level === 'off') return whole([]);
  const real = await realpath(dir);
  const notes: string[] = [];
  const d = await phase('snapshot: plan the copy (selective)', () => decidePlain(real, bin, req, level === 'relations', notes, 'snapshot'));
  if (!d.selective) return whole([...notes, `Full copy (not selective): ${d.reason}.`]);
  const bytes = await plainSelectiveBytes(real, d.plan);
  await assertDiskSpace(req.workDir, bytes, `Copying snapshot ${label} (selective)`);
  progress(`copying ${dir} selectively (${Math.round(bytes / 1e6)} MB): ${scopeText(d.plan)}`);
  const { dataDir, stats } = await phase('snapshot: copy the data directory (selective)', async () => {
    const staged = await stagePlainSelective(real, req.workDir, d.plan);
    await absolutizeLinks(staged.dataDir, real);
    return staged;
  });
  return { source: dataDir, copy: false, plan: d.plan, notes: [...notes, selectiveNote(d.plan, stats, stats.fullBytes + stats.sparseBytes)] };
}

export async function materializeSnapshot(config: SourceConfigOf<'snapshot'>, req: MaterializeRequest, probe: ProbeResult): Promise<Materialized> {
  const item = chooseItem(probe, req.target, req.set);
  const dir = item.path!;
  const progress = req.onProgress ?? (() => {});
  const bin = await findBinaries(await dataDirMajor(dir));
  const control = await pgControldata(bin, dir);
  const redo = control["Latest checkpoint's REDO location"];
  const laid = await layOut(dir, bin, req, item.label, progress);
  let inst: TempInstance;
  try {
    inst = await TempInstance.fromDataDir(laid.source, {
      bin,
      workDir: req.workDir,
      name: 'snapshot',
      keep: req.keep,
      superuser: config.superuser,
      copy: laid.copy,
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
      notes: [laid.copy ? copyNote(dir, inst) : copyNote(dir, inst, await realpath(dir)), ...laid.notes, ...(inst.sourceConfig ? [ASIDE_NOTE(inst.sourceConfig)] : [])],
      release: () => inst.destroy(),
    };
  } catch (e) {
    await inst.destroy();
    throw e;
  }
}
