// Recovery targets: what the user asks for (--target SPEC) and what a source
// is told to reach. before-incident is resolved by locate into an exact,
// exclusive transaction target.
import { usageError } from '../errors.js';
import { isLsn } from '../postgres/wal/lsn.js';

export type TargetSpec =
  | { kind: 'before-incident' }
  | { kind: 'xid'; xid: string }
  | { kind: 'lsn'; lsn: string }
  | { kind: 'time'; time: string }
  | { kind: 'latest' };

/** An exact target. Everything committed before it comes back; nothing at or after it. */
export interface ResolvedTarget {
  kind: 'xid' | 'lsn' | 'time' | 'latest';
  /** recovery_target_xid (exclusive). */
  xid?: string;
  /** LSN where the destructive transaction's first record starts (stop here to stay paused and readable). */
  firstLsn?: string;
  /** LSN of the destructive COMMIT record (recovery_target_lsn, exclusive). */
  commitLsn?: string;
  /** Commit time of the destructive transaction (ISO 8601). */
  time?: string;
  /** Database OID and name the event happened in, when known. */
  database?: string;
  inclusive: false;
  /** Where it came from: "locate", "--target xid:…", … */
  origin: string;
}

export function parseTargetSpec(spec: string | undefined): TargetSpec {
  if (!spec || spec === 'before-incident') return { kind: 'before-incident' };
  if (spec === 'latest') return { kind: 'latest' };
  const i = spec.indexOf(':');
  const kind = i > 0 ? spec.slice(0, i) : '';
  const value = i > 0 ? spec.slice(i + 1).trim() : '';
  switch (kind) {
    case 'xid':
      if (/^\d+$/.test(value)) return { kind: 'xid', xid: value };
      break;
    case 'lsn':
      if (isLsn(value)) return { kind: 'lsn', lsn: value.toUpperCase() };
      break;
    case 'time':
      if (value && !Number.isNaN(Date.parse(value))) return { kind: 'time', time: new Date(value).toISOString() };
      break;
  }
  throw usageError(
    'TARGET_INVALID',
    `--target ${spec} is not a recovery target.`,
    'Use before-incident (default), xid:N, lsn:X/Y, time:2026-11-25T01:42:48Z or latest.',
  );
}

/** A user-given target (not before-incident) as an exact target. */
export function resolveExplicit(spec: Exclude<TargetSpec, { kind: 'before-incident' }>): ResolvedTarget {
  switch (spec.kind) {
    case 'xid':
      return { kind: 'xid', xid: spec.xid, inclusive: false, origin: `--target xid:${spec.xid}` };
    case 'lsn':
      return { kind: 'lsn', commitLsn: spec.lsn, inclusive: false, origin: `--target lsn:${spec.lsn}` };
    case 'time':
      return { kind: 'time', time: spec.time, inclusive: false, origin: `--target time:${spec.time}` };
    case 'latest':
      return { kind: 'latest', inclusive: false, origin: '--target latest' };
  }
}
