// What an incident log knows: its steps and the facts the recover command
// feeds it. Types only, shared by the log and the report it renders.
import type { SetAside } from '../postgres/server-config.js';
import type { ProbeResult, RecoveryPoint } from '../sources/types.js';
import type { CopyBackResult } from './copy-back.js';
import type { TableIdentity } from './identity.js';
import type { MergeResult } from './promote-merge.js';
import type { ReplaceResult } from './promote-replace.js';
import type { ResolvedTarget } from '../sources/target.js';
import type { VerifyResult } from './verify.js';

export type RecoverMode = 'side-schema' | 'replace' | 'merge';

export interface StepRecord {
  name: string;
  startedAt: string;
  durationMs: number | null;
  ok: boolean | null;
  error?: string;
}

export interface IncidentFacts {
  startedAt: string;
  finishedAt?: string;
  /** Tables asked for, display form. */
  tables?: string[];
  /** Production, described without password ("db1:5432 as user app, database shop"). */
  production?: string;
  mode?: RecoverMode;
  target?: ResolvedTarget;
  /** The destructive event found by locate, as locate reports it. */
  incident?: { xid?: string; lsn?: string; commitTime?: string; kind?: string; relations?: { name: string | null }[] };
  probes?: ProbeResult[];
  ranking?: string[];
  /** The identity check: does the source hold the lost table, not its successor (one entry per table). */
  identity?: TableIdentity[];
  chosen?: { name: string; reason: string };
  materialized?: {
    source: string;
    recoveryPoint: RecoveryPoint;
    tables: { name: string; rows: number }[];
    notes: string[];
    kept?: { connect: string; remove: string };
    /** The source's configuration, set aside and not used by the temporary instance. */
    sourceConfig?: SetAside;
  };
  copyBack?: CopyBackResult;
  /** COMMITs that answered, as they answered (before their step returns): a publish names its side schema. */
  committed?: { step: string; schema?: string }[];
  verify?: VerifyResult;
  replace?: ReplaceResult;
  merge?: MergeResult;
  /** Lost tables the incident recreated, with the rows written to them since (their keys restarted: merge meets collisions). */
  recreated?: { table: string; liveRows: number; keyRestarted?: boolean }[];
  /** `undrop promote`: the side schema promoted and the checksums checked again first. */
  promotedFrom?: { schema: string; verifiedAt: string; source: string; tables: { name: string; rows: number; checksum: string; match: boolean }[] };
  /** Extra next steps the caller knows about (resume a paused replica: the exact command). */
  nextSteps?: string[];
  outcome?: { ok: boolean; error?: { code?: string; message: string; hint?: string } };
}
