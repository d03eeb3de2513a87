// Names for relfilenodes and OIDs, from a catalog that predates the event:
// a delayed replica still behind it, a throwaway copy of the newest base
// backup replayed to just before it, or production (for relations that still
// exist). Every answer says which catalog it came from.
import { errorMessage } from '../../errors.js';
import type { Inventory } from '../../inventory/schema.js';
import type { PgBinaries } from '../../postgres/binaries.js';
import { withClient } from '../../postgres/connect.js';
import { type ConnParams, resolveConnParams } from '../../postgres/conninfo.js';
import { TempInstance } from '../../postgres/instance.js';
import { Lsn } from '../../postgres/wal/lsn.js';
import type { BaseBackupRef } from '../../sources/types.js';
import { sleep } from '../../util/time.js';
import { assertReplayLeavesTablespacesAlone } from '../../postgres/replay-guard.js';

export interface CatalogRow {
  oid: number;
  filenode: number;
  schema: string;
  name: string;
  relkind: string;
  /** The table this relation belongs to (itself for tables). */
  ownerOid: number;
  ownerSchema: string;
  ownerName: string;
  ownerKind: string;
  ownerFilenode: number;
  /** Estimated rows of the owner (pg_class.reltuples; -1 unknown). */
  ownerTuples: number;
}

export interface Catalog {
  /** "production (current catalog)", "base backup /b/base1 replayed to 0/165DEEE8", "delayed replica replica-4h at 0/…". */
  label: string;
  kind: 'production' | 'delayed-replica' | 'base-backup' | 'recovered-copy';
  /** LSN the catalog reflects (undefined for production: now). */
  asOfLsn?: string;
  /** Predates an event whose first record is at this LSN. */
  predates(firstLsn: string): boolean;
  params(database: string): ConnParams;
  /** Replay further, to just before `lsn` (base backup copies only); false when it cannot. */
  advanceTo?(lsn: string): Promise<boolean>;
  /** A row as the catalog named it before undrop itself renamed anything there (recover's own copy: copy back's staging move). */
  unmove?(row: CatalogRow): CatalogRow;
  release(): Promise<void>;
}

const LOOKUP_SQL = `
with c as (
  select c.oid, c.relfilenode, c.relname, c.relnamespace, c.relkind
  from pg_class c
  where (c.relfilenode = any($1::oid[]) and c.relfilenode <> 0) or c.oid = any($2::oid[])
), p as (
  select c.*,
    coalesce(
      (select i.indrelid from pg_index i where i.indexrelid = c.oid),
      (select d.refobjid from pg_depend d
         where c.relkind = 'S' and d.classid = 'pg_class'::regclass and d.objid = c.oid
           and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i') limit 1),
      c.oid) as parent
  from c
), o as (
  select p.*, coalesce((select t.oid from pg_class t where t.reltoastrelid = p.parent), p.parent) as owner
  from p
)
select o.oid::int8 as oid, o.relfilenode::int8 as filenode, n.nspname as schema, o.relname as name, o.relkind::text as relkind,
       w.oid::int8 as owner_oid, wn.nspname as owner_schema, w.relname as owner_name, w.relkind::text as owner_kind,
       w.relfilenode::int8 as owner_filenode, w.reltuples::float8 as owner_tuples
from o
join pg_namespace n on n.oid = o.relnamespace
join pg_class w on w.oid = o.owner
join pg_namespace wn on wn.oid = w.relnamespace`;

/** Look up relfilenodes and OIDs in one database of a catalog. */
export async function lookupRelations(params: ConnParams, filenodes: number[], oids: number[]): Promise<CatalogRow[]> {
  if (filenodes.length === 0 && oids.length === 0) return [];
  return withClient(
    params,
    async (c) => {
      const r = await c.query(LOOKUP_SQL, [filenodes.map(String), oids.map(String)]);
      return r.rows.map((x) => ({
        oid: Number(x.oid),
        filenode: Number(x.filenode),
        schema: x.schema,
        name: x.name,
        relkind: x.relkind,
        ownerOid: Number(x.owner_oid),
        ownerSchema: x.owner_schema,
        ownerName: x.owner_name,
        ownerKind: x.owner_kind,
        ownerFilenode: Number(x.owner_filenode),
        ownerTuples: Number(x.owner_tuples),
      }));
    },
    { statementTimeoutMs: 30_000, connectTimeoutMs: 10_000 },
  );
}

/** Database OID → name, from any database of a catalog. */
export async function databaseNames(params: ConnParams): Promise<Map<number, string>> {
  return withClient(params, async (c) => {
    const r = await c.query('select oid::int8 as oid, datname from pg_database');
    return new Map(r.rows.map((x) => [Number(x.oid), String(x.datname)]));
  }, { statementTimeoutMs: 15_000, connectTimeoutMs: 10_000 });
}

/** Exact row count when quick, else undefined. */
export async function countRows(params: ConnParams, schema: string, table: string, timeoutMs = 5000): Promise<number | undefined> {
  try {
    return await withClient(params, async (c) => {
      const q = `select count(*)::int8 as n from "${schema.replace(/"/g, '""')}"."${table.replace(/"/g, '""')}"`;
      const r = await c.query(q);
      return Number(r.rows[0].n);
    }, { statementTimeoutMs: timeoutMs, lockTimeoutMs: 2000, connectTimeoutMs: 10_000 });
  } catch {
    return undefined;
  }
}

export function productionCatalog(inventory: Inventory | undefined, params?: ConnParams): Catalog | undefined {
  let p = params;
  if (!p) {
    if (!inventory?.production) return undefined;
    try {
      p = resolveConnParams(inventory.production.dsn);
    } catch {
      return undefined;
    }
  }
  const base = p;
  return {
    label: `production (${base.host ?? 'local'}${base.port ? `:${base.port}` : ''}, current catalog)`,
    kind: 'production',
    predates: () => false,
    params: (database) => ({ ...base, database }),
    release: async () => {},
  };
}

/** A copy of the cluster replayed to a recovery target by someone else (recover's temporary instance). */
export interface RecoveredCopy {
  label: string;
  params(database: string): ConnParams;
  /**
   * The tables copy back moves into its staging schema in this copy, set just before the move: the naming
   * may read the catalog after it, and must still name them where they were (not "undrop_staging_….t").
   */
  moved?: { staging: string; tables: readonly { schema: string; name: string }[] };
}

/** Pure: a row named in a copy whose tables copy back moved into `moved.staging`, named as before the move. */
export function unmovedRow(row: CatalogRow, moved: RecoveredCopy['moved']): CatalogRow {
  if (!moved) return row;
  const back = (schema: string, name: string) => (schema === moved.staging ? (moved.tables.find((t) => t.name === name)?.schema ?? schema) : schema);
  return { ...row, schema: back(row.schema, row.name), ownerSchema: back(row.ownerSchema, row.ownerName) };
}

/**
 * Names from a copy replayed to just before the transaction at `cutoff` (its
 * first record): that transaction's own changes are uncommitted there, so it
 * still lists every relation the transaction removed, and so does every
 * event that begins after it. Read-only.
 */
export function recoveredCopyCatalog(copy: RecoveredCopy, cutoff: string): Catalog {
  return {
    label: `${copy.label} (replayed to the target)`,
    kind: 'recovered-copy',
    asOfLsn: cutoff,
    predates: (first) => !Lsn.before(first, cutoff),
    params: copy.params,
    unmove: (row) => unmovedRow(row, copy.moved),
    release: async () => {},
  };
}

/** Delayed replicas of the inventory, with how far they have replayed. Read-only: never pauses or resumes. */
export async function replicaCatalogs(inventory: Inventory | undefined): Promise<Catalog[]> {
  const out: Catalog[] = [];
  for (const s of inventory?.sources ?? []) {
    if (s.kind !== 'delayed-replica') continue;
    try {
      const p = resolveConnParams(s.dsn);
      const lsn = await withClient(p, async (c) => {
        const r = await c.query('select pg_is_in_recovery() as rec, pg_last_wal_replay_lsn()::text as lsn');
        return r.rows[0].rec ? (r.rows[0].lsn as string | null) : null;
      }, { connectTimeoutMs: 5000, statementTimeoutMs: 5000 });
      if (!lsn) continue;
      out.push({
        label: `delayed replica ${s.name} (replayed to ${lsn})`,
        kind: 'delayed-replica',
        asOfLsn: lsn,
        predates: (first) => Lsn.before(lsn, first),
        params: (database) => ({ ...p, database }),
        release: async () => {},
      });
    } catch {
      /* unreachable replica: not a catalog */
    }
  }
  return out;
}

export interface BaseBackupCatalogRequest {
  bin: PgBinaries;
  /** The source's base backups, newest start first. */
  backups: BaseBackupRef[];
  /** restore_command the copy uses to get WAL (cp from the archive, pgbackrest archive-get, …). */
  restoreCommand?: string;
  /** The WAL locate read (replay-guard.ts checks it for tablespaces the replay would re-create here). */
  walDir?: string;
  /** Replay up to (not including) this LSN: the first record of the oldest event. */
  stopBefore: string;
  workDir: string;
  onProgress?: (msg: string) => void;
  timeoutMs?: number;
}

/**
 * Start a throwaway copy of the newest base backup that starts before
 * `stopBefore`, replay WAL up to just before it and pause (read-only,
 * archive_mode off). Falls back to recovery_target = 'immediate' (the
 * catalog as of the backup) when the target cannot be reached.
 */
export async function baseBackupCatalog(req: BaseBackupCatalogRequest): Promise<Catalog | undefined> {
  const backups = req.backups.filter((b) => Lsn.before(b.startLsn, req.stopBefore));
  const backup = backups[0];
  if (!backup) return undefined;
  for (const mode of ['target', 'immediate'] as const) {
    const inst = await startCopy(req, backup, mode).catch((e) => {
      req.onProgress?.(`base backup ${backup.path}: ${errorMessage(e)}`);
      return undefined;
    });
    if (!inst) continue;
    let asOf = mode === 'target' ? req.stopBefore : backup.startLsn;
    const cat: Catalog = {
      label: mode === 'target' ? `base backup ${backup.path} replayed to just before ${req.stopBefore}` : `base backup ${backup.path} as of its start (${backup.startLsn})`,
      kind: 'base-backup',
      asOfLsn: asOf,
      predates: (first) => !Lsn.before(first, asOf),
      params: (database) => inst.connParams(database),
      release: () => inst.destroy(),
    };
    if (mode === 'target') {
      cat.advanceTo = async (lsn: string) => {
        if (!Lsn.before(asOf, lsn)) return true;
        req.onProgress?.(`replaying the base backup copy on to just before ${lsn}`);
        try {
          if (req.walDir) await assertReplayLeavesTablespacesAlone(req.bin, { walDir: req.walDir, startLsn: asOf, endLsn: lsn, timeline: backup.timeline, label: backup.path });
          await inst.stop('fast');
          await inst.configure({ recovery_target_lsn: lsn });
          await inst.start(600);
          await waitPaused(inst, req.timeoutMs);
          asOf = lsn;
          cat.asOfLsn = lsn;
          cat.label = `base backup ${backup.path} replayed to just before ${lsn}`;
          return true;
        } catch (e) {
          req.onProgress?.(`could not replay the copy further: ${errorMessage(e)}`);
          return false;
        }
      };
    }
    return cat;
  }
  return undefined;
}

async function startCopy(req: BaseBackupCatalogRequest, backup: BaseBackupRef, mode: 'target' | 'immediate'): Promise<TempInstance> {
  req.onProgress?.(`starting a read-only copy of base backup ${backup.path} for table names`);
  const settings: Record<string, string | number | boolean> = {
    hot_standby: true,
    recovery_target_action: 'pause',
    restore_command: req.restoreCommand ?? '',
  };
  if (mode === 'target') {
    settings.recovery_target_lsn = req.stopBefore;
    settings.recovery_target_inclusive = false;
  } else settings.recovery_target = 'immediate';
  // The source lays the backup out (a tar is extracted, a plain backup is copied, never started in place).
  const laid = await backup.layout(req.workDir);
  let inst: TempInstance | undefined;
  try {
    // Replaying a CREATE TABLESPACE would empty the live tablespace on this host: refuse before any start.
    if (req.walDir) await assertReplayLeavesTablespacesAlone(req.bin, { walDir: req.walDir, startLsn: backup.startLsn, endLsn: req.stopBefore, timeline: backup.timeline, label: backup.path });
    inst = await TempInstance.fromDataDir(laid.dataDir, { bin: req.bin, workDir: req.workDir, name: 'locate-catalog', recovery: 'recovery', settings, copy: laid.copy });
    await inst.start(600);
    await waitPaused(inst, req.timeoutMs);
    return inst;
  } catch (e) {
    await inst?.destroy();
    throw e;
  } finally {
    await laid.release();
  }
}

async function waitPaused(inst: TempInstance, timeoutMs = 15 * 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await inst.query<{ state: string; rec: boolean }>("select pg_is_in_recovery() as rec, case when pg_is_in_recovery() then pg_get_wal_replay_pause_state() else 'promoted' end as state");
    const row = r.rows[0]!;
    if (row.state === 'paused') return;
    if (!row.rec) throw new Error('the copy left recovery without pausing');
    if (Date.now() > until) throw new Error('replay did not reach the target in time');
    await sleep(200);
  }
}
