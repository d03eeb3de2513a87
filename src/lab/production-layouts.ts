// Production layouts for a lab that is up (before its incident) and has no
// replica: what real servers have and the tidy lab has not. Used by the
// isolation tests; the default lab stays as it is.
//   - a tablespace outside the data directory (D/tblspc-live) holding
//     public.invoices;
//   - a SAN-style snapshot D/san/<stamp>/: pgdata → data-volume (the path is
//     itself a link), data-volume/pg_wal → wal-volume, pg_tblspc/<oid> →
//     ts-volume, and a standby-like configuration that reaches outside
//     (archive_cleanup_command on the real archive, recovery_end_command,
//     synchronous_standby_names, a shared_preload_libraries entry that is not
//     installed, data_directory pointing at the live primary, …);
//   - a tar base backup with a tablespace tar, reached only through a link
//     (D/base-san/latest → D/base-store/<stamp>-tar), whose configuration
//     carries archive_cleanup_command and recovery_end_command;
//   - a pgBackRest full backup with the tablespace (when pgBackRest is set up).
// Sources `san` (snapshot) and `wal-san` (pitr) are added to D/undrop.yaml.
import { appendFile, mkdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import YAML from 'yaml';
import { validateInventory } from '../inventory/load.js';
import { findBinaries } from '../postgres/binaries.js';
import { copyTree, TempInstance } from '../postgres/instance.js';
import { pgBasebackup } from '../postgres/lab-programs.js';
import { chownForServer } from '../postgres/os-user.js';
import { pgCtlStop } from '../postgres/programs.js';
import { LAB_DATABASE, LOST_TABLES } from './dataset.js';
import { fileStamp, labLayout, sh } from './layout.js';
import { pgbackrestFullBackup } from './pgbackrest.js';
import { REPLICATION_ROLE } from './primary.js';
import { requireState, type TableTruths } from './state.js';
import { tablesChecksums } from './truth.js';
import { stopWorkload } from './workload.js';

export const TABLESPACE_TABLE = 'public.invoices';
/** A library no server has: a copy that loaded the source's shared_preload_libraries would not start. */
export const MISSING_LIBRARY = 'undrop_lab_no_such_library';
export const SECRET_IN_CONNINFO = 'lab-standby-secret';

export interface ProductionLayouts {
  tablespaceDir: string;
  san: { link: string; dataVolume: string; walVolume: string; tsVolume: string; tables: TableTruths; dir: string };
  pitr: { baseBackups: string; latest: string; backup: string };
  pgbackrest: boolean;
  /** A file recovery_end_command would create. */
  recoveryEndMarker: string;
}

export async function addProductionLayouts(dirArg: string): Promise<ProductionLayouts> {
  const layout = labLayout(dirArg);
  const state = await requireState(layout);
  const bin = await findBinaries(state.pg.major);
  if (!state.primary || !state.archive) throw new Error('production layouts need a lab with a primary and a WAL archive');
  // A standby on the same host replays CREATE TABLESPACE at the primary's path: it would remove and
  // share the primary's tablespace directory. (The same holds for any WAL replay on the same host.)
  if (state.replica) throw new Error('production layouts need a lab without a delayed replica (a same-host standby would replay CREATE TABLESPACE into the primary\'s tablespace)');
  const primary = TempInstance.attach({ bin, root: state.primary.root, socketDir: state.socketDir, port: state.primary.port, name: 'lab-primary', superuser: state.primary.superuser });
  // Stable counts: the snapshot's truth is read under a lock, but a quiet lab is simpler to reason about.
  if (state.workload) await stopWorkload(state.workload.pid);

  const tablespaceDir = join(layout.dir, 'tblspc-live');
  await mkdir(tablespaceDir, { recursive: true });
  await chownForServer(tablespaceDir);
  await primary.query(`CREATE TABLESPACE lab_ts LOCATION '${tablespaceDir.replace(/'/g, "''")}'`);
  await primary.query(`ALTER TABLE ${TABLESPACE_TABLE} SET TABLESPACE lab_ts`, [], LAB_DATABASE);

  // A configuration that acts outside, in the backups (harmless on the running primary: it only matters in recovery).
  const recoveryEndMarker = join(layout.dir, 'recovery-end-command-ran');
  const cleanup = `${bin.path('pg_archivecleanup')} ${sh(state.archive)} %r`;
  await primary.query(`ALTER SYSTEM SET archive_cleanup_command = '${cleanup.replace(/'/g, "''")}'`);
  await primary.query(`ALTER SYSTEM SET recovery_end_command = 'touch ${sh(recoveryEndMarker).replace(/'/g, "''")}'`);

  const store = join(layout.dir, 'base-store');
  const baseBackups = join(layout.dir, 'base-san');
  await mkdir(store, { recursive: true });
  await chownForServer(store, false);
  await mkdir(baseBackups, { recursive: true });
  const backup = join(store, `${fileStamp(new Date())}-tar`);
  await pgBasebackup(bin, { host: primary.socketDir, port: primary.port, user: REPLICATION_ROLE, dir: backup, format: 'tar', gzip: true, label: 'undrop lab tar backup with a tablespace', noSync: true });
  const latest = join(baseBackups, 'latest');
  await symlink(backup, latest);
  let pgbackrest = false;
  if (state.pgbackrest) {
    await pgbackrestFullBackup(layout);
    pgbackrest = true;
  }
  await primary.query('ALTER SYSTEM RESET archive_cleanup_command');
  await primary.query('ALTER SYSTEM RESET recovery_end_command');

  // The SAN snapshot: a crash-consistent copy of data, WAL and tablespace volumes, taken together.
  await primary.query('CHECKPOINT');
  const san = join(layout.dir, 'san', fileStamp(new Date()));
  const dataVolume = join(san, 'data-volume');
  const walVolume = join(san, 'wal-volume');
  const tsVolume = join(san, 'ts-volume');
  await mkdir(san, { recursive: true });
  const client = await primary.connect(LAB_DATABASE);
  let tables: TableTruths;
  try {
    await client.query('BEGIN');
    await client.query(`LOCK TABLE ${LOST_TABLES.join(', ')} IN SHARE MODE`);
    tables = await tablesChecksums(client, LOST_TABLES, { inTransaction: true });
    const r = await pgCtlStop(bin, primary.dataDir, 'immediate', 60);
    if (r.exitCode !== 0) throw new Error(`pg_ctl stop -m immediate failed: ${r.stderr.trim()}`);
  } finally {
    await client.end().catch(() => {});
  }
  try {
    await copyTree(primary.dataDir, dataVolume);
    await copyTree(tablespaceDir, tsVolume);
  } finally {
    await primary.start(300);
  }
  await rename(join(dataVolume, 'pg_wal'), walVolume);
  await symlink(walVolume, join(dataVolume, 'pg_wal'));
  const oid = (await primary.query<{ oid: string }>("SELECT oid::text AS oid FROM pg_tablespace WHERE spcname = 'lab_ts'")).rows[0]!.oid;
  await rename(join(dataVolume, 'pg_tblspc', oid), join(san, 'link-to-live-tablespace'));
  await symlink(tsVolume, join(dataVolume, 'pg_tblspc', oid));
  await appendFile(
    join(dataVolume, 'postgresql.conf'),
    [
      '',
      '# --- as on a standby of production (lab: production-layouts) ---',
      `data_directory = '${primary.dataDir}'`,
      `shared_preload_libraries = '${MISSING_LIBRARY}'`,
      "synchronous_standby_names = 'lab_sync_standby'",
      "recovery_min_apply_delay = '4h'",
      `primary_conninfo = 'host=db1.example port=5432 user=replicator password=${SECRET_IN_CONNINFO}'`,
      "include_if_exists = '/etc/undrop-lab-nowhere/extra.conf'",
      '',
    ].join('\n'),
  );
  await appendFile(join(dataVolume, 'postgresql.auto.conf'), `archive_cleanup_command = '${cleanup.replace(/'/g, "''")}'\nrecovery_end_command = 'touch ${sh(recoveryEndMarker).replace(/'/g, "''")}'\n`);
  const link = join(san, 'pgdata');
  await symlink(dataVolume, link);

  const doc = YAML.parse(await readFile(layout.inventoryFile, 'utf8')) as { sources: Record<string, unknown>[] };
  doc.sources.push({ name: 'san', kind: 'snapshot', paths: [join(layout.dir, 'san', '*', 'pgdata')], superuser: 'postgres' });
  doc.sources.push({ name: 'wal-san', kind: 'pitr', base_backups: baseBackups, wal_archive: state.archive });
  validateInventory(doc, layout.inventoryFile);
  await writeFile(layout.inventoryFile, YAML.stringify(doc));
  return { tablespaceDir, san: { link, dataVolume, walVolume, tsVolume, tables, dir: san }, pitr: { baseBackups, latest, backup }, pgbackrest, recoveryEndMarker };
}
