// Recovery targets: what the user asks for (--target SPEC, or the DBA's
// --target-xid/-lsn/-time/-name/-timeline) and what a source is told to
// reach. before-incident is resolved by locate into an exact, exclusive
// transaction target.
import { usageError } from '../errors.js';
import { isLsn } from '../postgres/wal/lsn.js';
import { parseZonedTime } from '../util/time.js';

type Point =
  | { kind: 'before-incident' }
  | { kind: 'xid'; xid: string }
  | { kind: 'lsn'; lsn: string }
  | { kind: 'time'; time: string }
  | { kind: 'name'; name: string }
  | { kind: 'latest' };

/** A point, plus the timeline to follow (recovery_target_timeline; default latest). */
export type TargetSpec = Point & { timeline?: string };

/** An exact target. Everything committed before it comes back; nothing at or after it. */
export interface ResolvedTarget {
  kind: 'xid' | 'lsn' | 'time' | 'name' | 'latest';
  /** recovery_target_xid (exclusive). */
  xid?: string;
  /** LSN where the destructive transaction's first record starts (stop here to stay paused and readable). */
  firstLsn?: string;
  /** LSN of the destructive COMMIT record (recovery_target_lsn, exclusive). */
  commitLsn?: string;
  /** Commit time of the destructive transaction (ISO 8601, UTC, microseconds kept). */
  time?: string;
  /** recovery_target_name: a restore point made with pg_create_restore_point(). */
  name?: string;
  /** recovery_target_timeline (a number, or latest / current); default latest. */
  timeline?: string;
  /** Database OID and name the event happened in, when known. */
  database?: string;
  inclusive: false;
  /** Where it came from: "locate", "--target xid:…", … */
  origin: string;
}

const TARGET_HINT = 'Use before-incident (default), xid:N, lsn:X/Y, time:2026-11-25T01:42:48Z, name:RESTORE_POINT or latest.';

/** A time a person typed, with a zone, as UTC ISO 8601 (microseconds kept); exit 2 otherwise. */
export function parseTargetTime(text: string, flag: string): string {
  const r = parseZonedTime(text);
  if ('iso' in r) return r.iso;
  if (r.error === 'no-zone') {
    throw usageError('TIME_ZONE_MISSING', `${flag} ${text} has no time zone: it would be read in this machine's zone, which is a guess.`, `Add the zone, for example ${text.trim().replace(' ', 'T')}Z (UTC) or ${text.trim().replace(' ', 'T')}+01:00.`);
  }
  throw usageError('TIME_INVALID', `${flag} ${text} is not a date and time.`, 'Use ISO 8601 with a zone, for example 2026-11-25T01:42:48.123456Z or "2026-11-25 02:42:48+01".');
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
      return { kind: 'time', time: parseTargetTime(value, `--target ${kind}:`) };
    case 'name':
      if (value) return { kind: 'name', name: value };
      break;
  }
  throw usageError('TARGET_INVALID', `--target ${spec} is not a recovery target.`, TARGET_HINT);
}

export interface TargetFlags {
  target?: string;
  targetXid?: string;
  targetLsn?: string;
  targetTime?: string;
  targetName?: string;
  targetTimeline?: string;
}

/** --target SPEC or one of the DBA's --target-xid/-lsn/-time/-name (not both), plus --target-timeline. */
export function targetFromFlags(f: TargetFlags): TargetSpec {
  const dba: [string, string | undefined][] = [
    ['xid', f.targetXid],
    ['lsn', f.targetLsn],
    ['time', f.targetTime],
    ['name', f.targetName],
  ];
  const given = dba.filter(([, v]) => v !== undefined);
  if (given.length + (f.target !== undefined ? 1 : 0) > 1) {
    const names = [...(f.target !== undefined ? ['--target'] : []), ...given.map(([k]) => `--target-${k}`)];
    throw usageError('TARGET_CONFLICT', `${names.join(' and ')} name different points; give one.`, TARGET_HINT);
  }
  let spec: TargetSpec;
  if (given.length) {
    const [k, v] = given[0]!;
    if (k === 'time') spec = { kind: 'time', time: parseTargetTime(v!, '--target-time') };
    else spec = parseTargetSpec(`${k}:${v}`);
  } else spec = parseTargetSpec(f.target);
  if (f.targetTimeline !== undefined) {
    const tl = f.targetTimeline.trim().toLowerCase();
    if (!/^(\d+|latest|current)$/.test(tl) || tl === '0') throw usageError('TIMELINE_INVALID', `--target-timeline ${f.targetTimeline} is not a timeline.`, 'Use a timeline number (as in the WAL file names, e.g. 2), latest or current.');
    spec = { ...spec, timeline: tl };
  }
  return spec;
}

/** A user-given target (not before-incident) as an exact target. */
export function resolveExplicit(spec: Exclude<TargetSpec, { kind: 'before-incident' }>): ResolvedTarget {
  const tl = spec.timeline ? { timeline: spec.timeline } : {};
  switch (spec.kind) {
    case 'xid':
      return { kind: 'xid', xid: spec.xid, inclusive: false, origin: `--target xid:${spec.xid}`, ...tl };
    case 'lsn':
      return { kind: 'lsn', commitLsn: spec.lsn, inclusive: false, origin: `--target lsn:${spec.lsn}`, ...tl };
    case 'time':
      return { kind: 'time', time: spec.time, inclusive: false, origin: `--target time:${spec.time}`, ...tl };
    case 'name':
      return { kind: 'name', name: spec.name, inclusive: false, origin: `--target name:${spec.name}`, ...tl };
    case 'latest':
      return { kind: 'latest', inclusive: false, origin: '--target latest', ...tl };
  }
}

/**
 * A target time as recovery_target_time takes it: PostgreSQL's check rejects
 * the ISO "T…Z" spelling, so "2026-11-25 01:42:48.123456+00" (UTC, microseconds kept).
 */
export function pgTargetTime(iso: string): string {
  return iso.replace('T', ' ').replace(/Z$/, '+00');
}

/** The target in words, times in UTC: what every confirmation echoes. */
export function describeTarget(t: ResolvedTarget): string {
  const tl = t.timeline ? `, timeline ${t.timeline}` : '';
  if (t.kind === 'latest') return `the newest state every source can reach${tl} (${t.origin})`;
  if (t.kind === 'name') return `restore point "${t.name}"${tl} (${t.origin})`;
  const parts = [t.xid ? `just before transaction ${t.xid}` : undefined, t.commitLsn ? `LSN ${t.commitLsn}` : undefined, t.time ? `${t.kind === 'time' ? 'before' : 'committed'} ${utc(t.time)}` : undefined].filter(Boolean);
  return `${parts.join(', ')}${tl} (${t.origin})`;
}

function utc(iso: string): string {
  return iso.endsWith('Z') ? `${iso.slice(0, -1).replace('T', ' ')} UTC` : iso;
}
