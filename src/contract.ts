// The JSON documents of the command-line contract (DESIGN.md, README
// "JSON documents"): what `--json` prints on stdout. Scripts and monitoring
// depend on these fields; change them only with a line in the README's
// changelog. test/unit/contract.test.ts checks the README against them.
import type { EventKind, EventRelation, LocateWal } from './recovery/locate/types.js';
import type { OnConflict } from './recovery/merge-conflicts.js';
import type { MergeResult } from './recovery/promote-merge.js';
import type { SideSchemaRecord } from './recovery/side-record.js';
import type { ResolvedTarget } from './sources/target.js';
import type { ProbeItem, SourceStatus } from './sources/types.js';
import type { SourceKind } from './inventory/schema.js';
import type { Playbook, PlaybookCommand, PlaybookStep } from './playbooks/schema.js';
import type { ReplicaPauseOutcome, ResumeOutcome } from './sources/delayed-replica/pause.js';

/** `undrop probe --json` */
export interface ProbeDocument {
  sources: ProbeSourceDocument[];
  /** Source names, best first. */
  ranking: string[];
  production: { reachable: boolean; systemIdentifier: string | null; serverVersion: string | null; error: string | null };
  target: ResolvedTarget | null;
  /** Live tables whose keys look restarted (recreated): a merge will meet collisions. */
  collisionHints: { table: string; liveRows: number; liveMaxKey: string; sourceRows: number; source: string; message: string }[];
  durationMs: number;
}

export interface ProbeSourceDocument {
  name: string;
  kind: SourceKind;
  status: SourceStatus;
  recoveryPoint: { time: string | null; lsn: string | null; xid?: string; basis?: string } | null;
  tables: { name: string; present: boolean; rows: number | null; rowsKind?: 'exact' | 'estimate' }[];
  findings: { level: 'info' | 'warn' | 'error'; code: string; message: string; hint?: string }[];
  /** Why the source is unusable or degraded, in one line (null when usable). */
  reason: string | null;
  lossWindowMs: number | null;
  timeLeftMs: number | null;
  estimatedMaterializeMs: number | null;
  items: ProbeItem[];
  durationMs: number;
}

/** `undrop locate --json` */
export interface LocateDocument {
  events: LocateEventDocument[];
  /** Events set aside by --ignore. */
  ignored: LocateEventDocument[];
  /** Drops of undrop's own side schemas (undrop_*, or recorded in an incident folder): housekeeping, never incidents. */
  undrop: LocateEventDocument[];
  /** timelines: every timeline read, oldest first (a WAL with history holds several). */
  wal: LocateWal & { timelines: number[] };
  catalogs: string[];
  warnings: { code: string; message: string; hint?: string }[];
  durationMs: number;
}

export interface LocateEventDocument {
  xid: string;
  /** The commit LSN. */
  lsn: string;
  commitTime: string;
  kind: EventKind;
  /** kind "delete" only: the statement that removed the rows. */
  operation?: 'delete' | 'update';
  relations: { relfilenode: number; name: string | null; oid: number | null; relkind: string | null; files: number[]; rows: number | null; rowsKind: EventRelation['rowsKind'] | null; bornAt?: string; bornByRewrite?: boolean }[];
  /** The recovery target that stops just before this event (a DROP DATABASE's is an LSN). */
  target: { xid: string; inclusive: false; lsn?: string; timeline?: string; note?: string };
  firstLsn: string;
  commitLsn: string;
  /** The timeline whose WAL holds the event (recover follows it unless --target-timeline says otherwise). */
  timeline: number;
  database: { oid: number; name: string | null };
  recreated: { relfilenode: number; name: string | null; oid: number | null }[];
  rowsLost: number | null;
  rowsKind: 'exact' | 'estimate' | 'wal-records' | null;
  catalog: string | null;
  partial?: true;
  ignoredBy?: string;
  /** Every relation has a name (an unnamed event is chosen only with --target or a person's confirmation). */
  named: boolean;
  /** Why some files have no name. */
  unnamedReason?: string;
  notes: string[];
}

/** `undrop recover --json` (and the guided flow's) */
export interface RecoverDocument {
  source: string | null;
  recoveryPoint: { time: string | null; lsn: string | null; xid: string | null } | null;
  mode: string;
  schema: string | null;
  tables: RecoveredTableDocument[];
  durationMs: number;
  /** The Markdown report's path. */
  report: string;
  nextSteps: string[];
  promoted: PromoteSummary | null;
}

export interface RecoveredTableDocument {
  name: string;
  recoveredAs: string;
  rows: number;
  /** "<algorithm>:<a>:<b>" (colhash64, rowhash64, rowhash128, hash128 or md5sum: recompute with the one it names) or "empty". */
  checksum: string | null;
  /** The identity check: the source holds the lost table, not its successor. */
  identity: 'proven' | 'not-proven' | 'failed';
  /** How it was proven, or why not. */
  identityReason: string | null;
}

export interface PromoteSummary {
  mode: 'replace' | 'merge';
  /** Merge: the --on-conflict choice, and whether anything live was changed (false: refused on collisions). */
  onConflict?: OnConflict;
  committed?: boolean;
  tables: {
    name: string;
    inserted?: number;
    skipped?: number;
    conflicts?: number;
    otherUnique?: number;
    conflictsTable?: string | null;
    resolution?: string | null;
    rekeyed?: number;
    sample?: MergeResult['tables'][number]['sample'];
    liveRenamedTo?: string | null;
  }[];
}

/** `undrop promote --json` */
export interface PromoteDocument {
  schema: string;
  mode: 'merge' | 'replace';
  source: string;
  recoveryPoint: SideSchemaRecord['recoveryPoint'];
  verifiedAt: string;
  tables: { name: string; recoveredAs: string; rows: number; checksum: string }[];
  promoted: PromoteSummary | null;
  nextSteps: string[];
  durationMs: number;
  report: string;
}

/** `undrop verify --json` */
export interface VerifyDocument {
  healthy: boolean;
  sources: {
    name: string;
    kind: SourceKind;
    ok: boolean;
    checked: 'restored' | 'probed';
    probeStatus: SourceStatus;
    problems: { level: string; code: string; message: string }[];
    recoveryPoint: { time: string | null; lsn: string | null; xid?: string | null; basis?: string } | null;
    /** rows null: not counted (a replica's table locked by replay). */
    tables: { name: string; rows: number | null; note?: string }[];
    /** Every check run: probe, disk, restore, read, tables, rows, query:NAME, amcheck, checksum, min_rows, loss_window, duration. */
    checks: { check: string; ok: boolean; message: string }[];
    sizeBytes: number | null;
    durationMs: number;
    error?: { code: string; message: string; hint?: string };
    notes: string[];
  }[];
}

/** Any command under --json that fails: the one document on stdout (a command that failed part way adds its own fields as far as it got). */
export interface ErrorDocument {
  error: { code: string; message: string; hint: string | null; details: string[]; exitCode: number };
  [field: string]: unknown;
}

/** One command of a runbook, placeholders filled: the shape of a playbook's command (src/playbooks/schema.ts). */
export type FilledCommand = PlaybookCommand;
/** One step of a runbook, placeholders filled. */
export type FilledStep = PlaybookStep;

/** `undrop playbook NAME --json` (or --format json) */
export interface PlaybookDocument extends Pick<Playbook, 'name' | 'title' | 'branches'> {
  kind: string | null;
  summary: string | null;
  /** The inventory source it was filled from. */
  source: string | null;
  osUser: string;
  /** Placeholders that had no value: printed as <name>; the reader fills them in. */
  unfilled: { name: string; what: string }[];
  notes: string[];
  steps: FilledStep[];
}

/** `undrop pause --json` (the guided flow's first step does the same). */
export interface PauseDocument {
  replicas: ReplicaPauseOutcome[];
  /** True when every delayed replica is paused or already safe (exit 0). */
  safe: boolean;
}

/** `undrop resume --json` */
export interface ResumeDocument {
  replicas: ResumeOutcome[];
}
