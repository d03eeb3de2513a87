// What locate finds: destructive transactions read from WAL.
import type { HistoryEntry } from '../../postgres/wal/history.js';
import type { TablespaceScan } from '../../postgres/replay-guard.js';

export type EventKind = 'drop' | 'truncate' | 'delete' | 'drop-database';

/** A relation file (and, where the catalog knows it, the table it belongs to). */
export interface EventRelation {
  relfilenode: number;
  /** Relation OID when known (from dropped stats / Standby LOCK or the catalog). */
  oid?: number;
  /** schema.table (the owning table for TOAST, indexes and owned sequences); null when no catalog knew it. */
  name: string | null;
  /** r table, p partitioned, m matview, i index, t toast, S sequence; undefined when unknown. */
  relkind?: string;
  /** Every relfilenode of this table seen in the event (heap, toast, indexes, sequences). */
  files: number[];
  /** Rows lost: counted Heap DELETE/UPDATE records (exact) or the catalog's count/estimate. */
  rows?: number | null;
  rowsKind?: 'exact' | 'estimate' | 'wal-records';
  /** Commit LSN of the transaction whose Storage CREATE made this file, when it lies in the scanned WAL. */
  bornAt?: string;
  /** That transaction also unlinked files (a rewrite or TRUNCATE): the file may be an older table's new storage. */
  bornByRewrite?: boolean;
}

/** A relation file made in the scanned WAL (a Storage CREATE record of a committed transaction). */
export interface FileBirth {
  /** Commit LSN of the creating transaction. */
  lsn: string;
  xid: number;
  /** Files the same transaction unlinked (rewrite / TRUNCATE lineage); empty for a plain CREATE. */
  replaced: number[];
}

/** One destructive transaction, as detected in WAL (before names are attached). */
export interface RawEvent {
  kind: EventKind;
  /** For kind 'delete': the statement that removed rows. */
  operation?: 'delete' | 'update';
  xid: number;
  /** LSN of the transaction's first record seen (stop here to stay paused and readable). */
  firstLsn: string;
  commitLsn: string;
  /** ISO 8601 with microseconds, UTC. */
  commitTime: string;
  databaseOid: number;
  /** relfilenodes unlinked at commit (not created in the same transaction). */
  droppedFiles: number[];
  /** Relation OIDs dropped (dropped stats kind 2), not created in the same transaction. */
  droppedOids: number[];
  /** OIDs the transaction took ACCESS EXCLUSIVE locks on (Standby LOCK). */
  lockedOids: number[];
  /** relfilenodes created in the transaction and still alive at commit (recreated tables, truncate's new files). */
  createdFiles: number[];
  /** Heap DELETE / UPDATE record counts per user relfilenode, at or above the threshold. */
  rowChanges: { relfilenode: number; deletes: number; updates: number }[];
  /** DROP DATABASE: the `Database DROP dir` record (files go at this record, before the commit). */
  dropDir?: { lsn: string; tablespace: number; databaseOid: number }[];
  /** The transaction started before the scanned range or across a gap: firstLsn is only an upper bound. */
  partial?: boolean;
  /** The timeline whose WAL holds it (set by the scan). */
  timeline?: number;
}

export interface DetectorOptions {
  /** Heap DELETE (or UPDATE) records of one transaction on one relation that make a mass delete. */
  threshold: number;
}

export interface DetectorStats {
  records: number;
  commits: number;
  aborts: number;
  /** Largest number of open transactions held at once (memory stays proportional to this). */
  maxOpenXacts: number;
  firstLsn?: string;
  lastLsn?: string;
  firstCommitTime?: string;
  lastCommitTime?: string;
  /** Rewrites (VACUUM FULL, CLUSTER, ALTER TABLE … TYPE) seen and not reported. */
  rewrites: number;
}

/** An event with names from a catalog: what locate reports. */
export interface LocatedEvent {
  kind: EventKind;
  operation?: 'delete' | 'update';
  xid: string;
  /** Contract: the commit LSN. */
  lsn: string;
  firstLsn: string;
  commitLsn: string;
  commitTime: string;
  /** The timeline whose WAL holds it: the one a restore must follow (recovery_target_timeline). */
  timeline: number;
  database: { oid: number; name: string | null };
  relations: EventRelation[];
  /** DROP + CREATE in the same transaction: the new tables. */
  recreated: EventRelation[];
  /** Sum of rows lost where known. */
  rowsLost: number | null;
  rowsKind?: 'exact' | 'estimate' | 'wal-records';
  /** Which catalog gave the names (null: none; names are raw base/D/F). */
  catalog: string | null;
  target: { xid: string; inclusive: false; lsn?: string; timeline?: string; note?: string };
  /** The transaction started before the scanned WAL or across a gap: firstLsn is an upper bound. */
  partial?: boolean;
  /** Matched --ignore. */
  ignoredBy?: string;
  /** Some files have no name: why (the event is then only a candidate with an explicit target or confirmation). */
  unnamedReason?: string;
  notes: string[];
}

export interface ScanWarning {
  code: string;
  message: string;
  hint?: string;
}

/** The WAL a locate run read (also in the JSON document). */
export interface LocateWal {
  source: string;
  firstSegment?: string;
  lastSegment?: string;
  segments: number;
  /** The newest timeline read. */
  timeline: number;
  /** Every timeline read, oldest first (a WAL with history holds several). */
  timelines: number[];
  systemIdentifier?: string;
  pgWaldumpMajor: number;
  records: number;
  commits: number;
  firstCommitTime?: string;
  lastCommitTime?: string;
  maxOpenTransactions: number;
  gaps: { after: string; missing: string[] }[];
}

export interface LocateResult {
  /** Candidates, best first: events naming a requested table (or any named event), newest first; then unnamed ones. */
  events: LocatedEvent[];
  ignored: LocatedEvent[];
  /** Drops of undrop's own side schemas: housekeeping, never incidents. */
  undrop: LocatedEvent[];
  wal: LocateWal;
  catalogs: string[];
  warnings: ScanWarning[];
  durationMs: number;
  /** Tablespace CREATEs in the scanned WAL: materialize's replay guard reads them instead of the WAL again (not in the JSON). */
  tablespaces?: TablespaceScan;
  /** The scan started at LocateOptions.laterStart, not at the usual start (not in the JSON document). */
  startedLater?: boolean;
  /** The timeline history files beside the WAL read (not in the JSON document). */
  histories?: ReadonlyMap<number, HistoryEntry[]>;
}
