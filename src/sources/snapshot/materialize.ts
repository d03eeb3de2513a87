// Snapshot → temporary instance: copy the snapshot's data directory (never
// start or modify the snapshot itself), make the copy safe (archive off, no
// primary_conninfo, no standby.signal, slots removed), start it, let crash
// recovery finish. The recovery point is the last commit in the copy's WAL.
import { join } from 'node:path';
import type { SourceConfigOf } from '../../inventory/schema.js';
import { dataDirMajor, findBinaries } from '../../postgres/binaries.js';
import { TempInstance } from '../../postgres/instance.js';
import { ASIDE_NOTE } from '../../postgres/server-config.js';
import { pgControldata } from '../../postgres/programs.js';
import { lastCommitInWal } from '../../postgres/wal/commits.js';
import { chooseItem } from '../materialize/choose.js';
import { assertDiskSpace, diskUsage, copyTables } from '../materialize/preflight.js';
import type { Materialized, MaterializeRequest, ProbeResult } from '../types.js';

/** Both names of the source, and what was brought inside the copy. */
export function copyNote(dir: string, inst: TempInstance): string {
  const r = inst.copyRecord;
  const parts = [`Started a copy of ${dir}${r && r.resolved !== dir ? ` (which resolves to ${r.resolved})` : ''}; the snapshot itself was not modified.`];
  if (r?.walFrom) parts.push(`Its pg_wal is a link to ${r.walFrom}: the segments were copied, the link not followed at run time.`);
  for (const t of r?.tablespaces ?? []) parts.push(`Tablespace ${t.oid} (${t.from}) was copied into the work directory.`);
  return parts.join(' ');
}

export async function materializeSnapshot(config: SourceConfigOf<'snapshot'>, req: MaterializeRequest, probe: ProbeResult): Promise<Materialized> {
  const item = chooseItem(probe, req.target, req.set);
  const dir = item.path!;
  const progress = req.onProgress ?? (() => {});
  const bin = await findBinaries(await dataDirMajor(dir));
  const control = await pgControldata(bin, dir);
  const redo = control["Latest checkpoint's REDO location"];
  const size = await diskUsage(dir);
  await assertDiskSpace(req.workDir, size, `Copying snapshot ${item.label}`);

  progress(`copying ${dir} (${Math.round(size / 1e6)} MB) into the work directory`);
  const inst = await TempInstance.fromDataDir(dir, { bin, workDir: req.workDir, name: 'snapshot', keep: req.keep, superuser: config.superuser });
  try {
    // Read the copy's WAL, not the snapshot's, before crash recovery rewrites it.
    const last = redo ? await lastCommitInWal(bin, join(inst.dataDir, 'pg_wal'), redo) : undefined;
    progress('starting the copy; crash recovery replays the WAL since the last checkpoint');
    await inst.start();
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
      notes: [copyNote(dir, inst), ...(inst.sourceConfig ? [ASIDE_NOTE(inst.sourceConfig)] : [])],
      release: () => inst.destroy(),
    };
  } catch (e) {
    await inst.destroy();
    throw e;
  }
}
