// One interface for every source kind. A source module lives in
// src/sources/<kind>/ and is listed in src/sources/registry.ts.
import type { PgBinaries } from '../postgres/binaries.js';
import type { TablespaceScan } from '../postgres/replay-guard.js';
import type { ConnParams } from '../postgres/conninfo.js';
import type { TableName } from '../postgres/identifiers.js';
import type { TempInstance } from '../postgres/instance.js';
import type { ResolvedTarget } from './target.js';
import type { SourceConfigOf, SourceKind } from '../inventory/schema.js';

export type SourceStatus = 'usable' | 'degraded' | 'unusable';
export type FindingLevel = 'info' | 'warn' | 'error';

export interface Finding {
  level: FindingLevel;
  /** Stable, upper-case code scripts can match (DUMP_ERROR_TEXT, WAL_GAP, REPLICA_NO_DELAY…). */
  code: string;
  message: string;
  hint?: string;
}

export interface RecoveryPoint {
  /** ISO 8601, or null when unknown. */
  time: string | null;
  lsn: string | null;
  xid?: string | null;
  /** How the time was determined ("last replayed commit", "dump start", "checkpoint time (lower bound)"…). */
  basis?: string;
}

export interface TableInfo {
  /** schema.table */
  name: string;
  present: boolean;
  rows: number | null;
  rowsKind?: 'exact' | 'estimate';
}

/** One restorable item inside a source (a base backup, a dump file, a snapshot). */
export interface ProbeItem {
  label: string;
  path?: string;
  status: SourceStatus;
  recoveryPoint: RecoveryPoint | null;
  sizeBytes?: number;
  findings: Finding[];
  /** The backup manager's own status word, where it has one (Barman: DONE, FAILED, WAITING_FOR_WALS…). */
  backupStatus?: string;
}

export interface ProbeResult {
  name: string;
  kind: SourceKind;
  status: SourceStatus;
  recoveryPoint: RecoveryPoint | null;
  tables: TableInfo[];
  findings: Finding[];
  items?: ProbeItem[];
  /** Milliseconds of committed work this source cannot bring back, against the target (null when unknown). */
  lossWindowMs?: number | null;
  /** For a delayed replica: milliseconds left before it replays the incident (null when not applicable). */
  timeLeftMs?: number | null;
  estimatedMaterializeMs?: number | null;
  durationMs: number;
}

export interface ProbeContext {
  /** Tables asked about; empty means every table the source can list. */
  tables: TableName[];
  /** The incident target when known (from locate, --target or --incident-time). */
  target?: ResolvedTarget;
  /** Read whole archives, verify tar backups, run pgbackrest verify. */
  deep: boolean;
  timeoutMs: number;
  /** Production, to compare system identifiers; may be unreachable. */
  production?: ConnParams;
  productionSystemId?: string;
  workDir: string;
  now: Date;
  /** A WAL archive folder from the inventory (a pitr source): a replica's replay position is read there. */
  walArchive?: string;
  /**
   * Which restorable items to verify (pg_verifybackup reads every file of a backup): 'every' (probe,
   * verify), or 'chosen' (recover): the one a recovery restores (`pinned`, else the best), and older ones
   * only while the newer fail verification.
   */
  verify?: 'every' | 'chosen';
  /** --set: the item recover restores (verified in 'chosen' mode even when it is not the best). */
  pinned?: string;
}

export const SELECTIVE_LEVELS = ['relations', 'database', 'off'] as const;
export type SelectiveLevel = (typeof SELECTIVE_LEVELS)[number];

export interface MaterializeRequest {
  tables: TableName[];
  /** Database the tables live in. */
  database: string;
  target: ResolvedTarget;
  keep: boolean;
  workDir: string;
  /** A WAL archive folder from the inventory (a pitr source), for recovering copies. */
  walArchive?: string;
  /**
   * How much of a base backup to leave out (--selective). 'database': restore
   * only `database` (plus global/ and the system databases) and leave the
   * other databases' files sparse, as pgBackRest's --db-include does;
   * 'relations' (PITR and snapshots; default unless `keep` or a tar.gz backup): inside `database` too, leave the
   * other user tables' files (with their TOAST and indexes) sparse; 'off': restore
   * everything. Each level falls back to the one above (with a note) when unsure.
   */
  selective?: SelectiveLevel;
  /** --set LABEL: use this base backup / backup set / dump file / snapshot, not the newest before the target. */
  set?: string;
  /** pgBackRest restore processes (--process-max); default: the cores available. */
  processMax?: number;
  /**
   * Tablespace CREATEs a WAL scan already read (locate's, possibly still
   * running): the replay guard uses them when that scan covered the whole
   * replay range of this source's WAL, and reads the WAL itself otherwise.
   */
  walScanned?: Promise<TablespaceScan | undefined>;
  /**
   * Where the replay will stop when the target itself names no LSN (an xid
   * given by hand): that transaction's commit record, found by locate's scan
   * (undefined when it was not found), known as soon as the scan has read
   * the WAL. PITR's replay guard does not wait for it: when it is not known
   * yet, the guard reads to the end of the archive and waits for it only to
   * judge a CREATE TABLESPACE it found. pgBackRest's waits for it, to fetch
   * the WAL only up to there.
   */
  targetEnd?: Promise<string | undefined>;
  /**
   * The caller can read the schema and the rows from a read-only source
   * (copy back can): a paused replica that holds no startup lock on the
   * tables is then read in place, with no temporary instance (without
   * `keep`; Materialized.inPlace).
   */
  rowsInPlace?: boolean;
  /**
   * The caller counts the rows itself (recover: copy back's source checksums read every row of the same
   * static copy, so the counts come with them): materialize then only checks that the tables exist and
   * sets Materialized.rowsPending (a temporary instance after WAL replay, a started snapshot copy, a restored
   * dump, a paused replica read in place).
   */
  rowsCountedByCaller?: boolean;
  onProgress?: (message: string) => void;
}

interface MaterializedCommon {
  /** Where copy back reads the schema (and the rows, unless rowsFrom says otherwise). */
  conn: ConnParams;
  database: string;
  recoveryPoint: RecoveryPoint;
  tables: { name: string; rows: number }[];
  notes: string[];
  /**
   * relfilenode of each table (display name) in the source itself, when the
   * instance is not a physical copy (tables dumped from a paused replica);
   * the identity check compares them with the located event.
   */
  sourceRelfilenodes?: Record<string, number | null>;
  /** With rowsInPlace: the read-only server the rows are read from (same table names). */
  rowsFrom?: ConnParams;
  /**
   * With rowsCountedByCaller: `tables` names the tables (all present) with rows 0; the caller fills in
   * the exact counts.
   */
  rowsPending?: boolean;
  /** Stop and remove what was created (no-op for a kept instance, or when nothing was created). */
  release(): Promise<void>;
}

/** In a temporary instance copy back may write to (it moves the tables into a staging schema there). */
export interface MaterializedInInstance extends MaterializedCommon {
  /** The running temporary instance (a source module may leave it out when nothing outlives the call). */
  instance?: TempInstance;
  inPlace?: undefined;
}

/**
 * Read in place, no temporary instance: a paused replica serves the schema
 * and the rows itself (conn and rowsFrom are the replica), read-only;
 * nothing is written there.
 */
export interface MaterializedInPlace extends MaterializedCommon {
  instance?: undefined;
  /** The PostgreSQL programs of the source's major (pg_dump of its schema). */
  inPlace: { bin: PgBinaries };
  rowsFrom: ConnParams;
}

export type Materialized = MaterializedInInstance | MaterializedInPlace;

export interface SourceModule<K extends SourceKind = SourceKind> {
  kind: K;
  /** One-line description for help and playbooks. */
  title: string;
  probe(config: SourceConfigOf<K>, ctx: ProbeContext): Promise<ProbeResult>;
  materialize(config: SourceConfigOf<K>, req: MaterializeRequest, probe: ProbeResult): Promise<Materialized>;
  /**
   * Only for sources that move toward the incident on their own (a delayed
   * replica replays it when its delay runs out): how to stop that, first
   * thing in a recovery.
   */
  freeze?: FreezeHook<K>;
  /** Only for sources that hold WAL (locate reads it): where it is, or null when this one has none. */
  wal?(config: SourceConfigOf<K>): Promise<WalAccess | null>;
  /** Only for sources made of base backups: each one, newest start first (locate replays a copy for table names). */
  baseBackups?(config: SourceConfigOf<K>): Promise<BaseBackupRef[]>;
  /**
   * Only for sources that stand at a WAL position (a paused delayed replica):
   * an LSN from which the WAL holds every record of transaction `xid`, when
   * the source can vouch for it; undefined otherwise (scan from the usual start).
   */
  walScanStart?(config: SourceConfigOf<K>, req: { database: string; xid: string }): Promise<WalScanStart | undefined>;
}

/** Where a WAL scan for one transaction may start, and why that is enough. */
export interface WalScanStart {
  lsn: string;
  reason: string;
  /**
   * Only worth using when later than the scan's usual start (the newest base backup's): it saves reading, and the
   * transaction is whole after it, but the usual start is not to be given up for an earlier one (a snapshot's).
   */
  ifLater?: boolean;
  /** The cluster the start was read from (pg_control's system identifier): an LSN means something only in its own WAL. */
  systemId?: string;
}

/** A source's WAL, as locate reads it: a folder pg_waldump reads as is, or a restore_command that fetches one segment. */
export interface WalAccess {
  /** For messages: "wal (WAL archive /backups/wal)". */
  label: string;
  via: 'dir' | 'restore-command' | 'pgbackrest' | 'barman';
  /** A folder of segments (an archive, a pg_wal). */
  dir?: string;
  /** restore_command (%f, %p) that gets one segment; a base backup copy replays with it too. */
  restoreCommand?: string;
  /**
   * The archive's first and last segment, when the source can tell without fetching; and, for a source
   * that lists no base backups of its own to locate (pgBackRest), where its newest backup starts.
   */
  range?(): Promise<{ first?: string; last?: string; newestBackup?: { startLsn: string; segment: string } } | undefined>;
}

export interface BaseBackupRef {
  path: string;
  format: 'plain' | 'tar';
  startLsn: string;
  startTime: string | null;
  timeline: number;
  /**
   * The backup as a data directory under workDir: a tar backup is extracted
   * (copy: false, the caller adopts it), a plain one is given as is (copy:
   * true, never start it in place). release() removes what was extracted.
   */
  layout(workDir: string): Promise<{ dataDir: string; copy: boolean; release(): Promise<void> }>;
}

export interface FreezeHook<K extends SourceKind> {
  /** Incident-log step name ("pause"). */
  name: string;
  /** What the user sees while it runs ("Pausing replay on delayed replica replica-4h"). */
  title(config: SourceConfigOf<K>): string;
  /** null when there was nothing to stop (no delay); unreachable: paused false and a warning. */
  run(config: SourceConfigOf<K>, ctx: FreezeContext): Promise<Frozen | null>;
}

export interface FreezeContext {
  /** Database the lost tables live in. */
  database: string;
}

export interface Frozen {
  /** For the report's next steps: what the user runs once the data is safe (resume replay), and what to watch out for meanwhile. */
  nextSteps: string[];
  /** False when the source could not be stopped (unreachable): `warning` says what to do by hand, now. */
  paused?: boolean;
  warning?: string;
}

