// Which item of a probed source to materialize: the newest usable one whose
// recovery point does not pass the target (a snapshot or dump taken after
// the DROP no longer holds the tables).
import { basename } from 'node:path';
import { type UndropError, failure, usageError } from '../../errors.js';
import type { SourceKind } from '../../inventory/schema.js';
import { Lsn } from '../../postgres/wal/lsn.js';
import type { ResolvedTarget } from '../target.js';
import type { ProbeItem, ProbeResult } from '../types.js';

function timeOf(i: ProbeItem): number | null {
  const t = i.recoveryPoint?.time;
  return t ? Date.parse(t) : null;
}

export function beforeTarget(i: ProbeItem, target: ResolvedTarget): boolean {
  if (target.kind === 'latest') return true;
  const lsn = i.recoveryPoint?.lsn;
  const limitLsn = target.firstLsn ?? target.commitLsn;
  if (lsn && limitLsn) return Lsn.compare(lsn, limitLsn) <= 0;
  const t = timeOf(i);
  if (t !== null && target.time) return t <= Date.parse(target.time);
  return true; // unknown: allowed, but ranked last
}

/** Usable items first, newest first; degraded ones after the usable ones. */
export function chooseItems(probe: ProbeResult, target: ResolvedTarget): ProbeItem[] {
  const items = (probe.items ?? []).filter((i) => i.status !== 'unusable' && i.path && beforeTarget(i, target));
  const rank = (i: ProbeItem) => (i.status === 'usable' ? 0 : 1);
  return items.sort((a, b) => rank(a) - rank(b) || (timeOf(b) ?? -Infinity) - (timeOf(a) ?? -Infinity));
}

/** How a pinned item may be named: its label or path, the path's last folders (`2026-11-25/pgdata`), or the folder it is in (a snapshot's). */
function namedBy(n: string, set: string): boolean {
  const want = set.replace(/\/+$/, '');
  return n === want || basename(n) === want || n.endsWith(`/${want}`) || n.split('/').at(-2) === want;
}

/** The names `undrop probe` users can type: a path's folder name, with the one above it where several share it (snapshots' `pgdata`). */
function shortNames(names: string[]): string[] {
  const base = names.map((n) => basename(n));
  return names.map((n, i) => (base.filter((b) => b === base[i]).length > 1 && n.includes('/') ? n.split('/').slice(-2).join('/') : base[i]!));
}

function pinnedCandidates<T>(items: readonly T[], set: string, names: (i: T) => (string | undefined)[]): T[] {
  const named = (i: T) => names(i).filter((n): n is string => n !== undefined);
  const exact = items.filter((i) => named(i).includes(set));
  return exact.length ? exact : items.filter((i) => named(i).some((n) => namedBy(n, set)));
}

/** The item --set names, by the same rules as pinnedItem; undefined when none or several (for the probe, which never throws). */
export function findPinned<T>(items: readonly T[], set: string | undefined, names: (i: T) => (string | undefined)[]): T | undefined {
  if (set === undefined) return undefined;
  const found = pinnedCandidates(items, set, names);
  return found.length === 1 ? found[0] : undefined;
}

/**
 * --set LABEL: the one item (base backup, backup set, dump file, snapshot)
 * whose label or path is LABEL, ends with it, or is in a folder of that name;
 * an exact label or path wins. Exit 2 naming the ones there are when none
 * matches, or when several do (snapshots all end in pgdata).
 */
export function pinnedItem<T>(items: readonly T[], set: string, names: (i: T) => (string | undefined)[], source: string): T {
  // shown by the most telling name (a path, where an item has one)
  const shown = (i: T) => names(i).filter((n): n is string => !!n).at(-1);
  const found = pinnedCandidates(items, set, names);
  if (found.length === 1) return found[0]!;
  if (found.length > 1) {
    const these = shortNames(found.map((i) => shown(i) ?? '?'));
    throw usageError('SET_AMBIGUOUS', `--set ${set}: ${found.length} backups, dumps or snapshots of source "${source}" match it (${these.join(', ')}).`, `Name one: --set ${these[0]} (its folder name with the one above it, or its whole path).`);
  }
  const known = shortNames(items.map(shown).filter((n): n is string => !!n));
  throw usageError('SET_UNKNOWN', `--set ${set}: source "${source}" has no backup, dump or snapshot of that name.`, `Known: ${known.join(', ') || '(none)'} (\`undrop probe\` lists them).`);
}

/** A Barman backup that is not DONE (FAILED, STARTED, WAITING_FOR_WALS…) cannot be restored. */
export function backupNotDone(id: string, status: string): UndropError {
  return failure('BACKUP_NOT_DONE', `Barman backup ${id} is ${status}, not DONE: it cannot be restored.`, { hint: 'Pin another backup with --set (undrop probe lists them).' });
}

const PINNED_NOUN: Record<SourceKind, string> = { pitr: 'Base backup', pgbackrest: 'pgBackRest backup', barman: 'Barman backup', snapshot: 'Snapshot', dump: 'Dump', 'delayed-replica': 'Replica' };

/** A pinned item the probe found unusable, with the probe's reason: DUMP_INVALID for a dump, BACKUP_UNUSABLE otherwise (exit 1). */
export function pinnedUnusable(kind: SourceKind, what: string, set: string, why: string | undefined): UndropError {
  const message = `${PINNED_NOUN[kind]} ${what} (--set ${set}) cannot be used: ${why ?? 'the probe found it unusable.'}`;
  if (kind === 'dump') return failure('DUMP_INVALID', message, { hint: 'Choose another dump with --set (`undrop probe` lists them and why), or another source with --source.' });
  return failure('BACKUP_UNUSABLE', message, { hint: 'Choose another backup with --set (`undrop probe` lists them and why), or another source with --source.' });
}

/**
 * --set LABEL against a probe's items: the pinned item, or the refusal
 * materialize would end with — SET_UNKNOWN (exit 2), BACKUP_NOT_DONE (a
 * Barman backup not DONE), BACKUP_UNUSABLE or DUMP_INVALID (the probe found
 * it unusable). Recover asks right after the probe, before anything long
 * runs; materialize asks again.
 */
export function pinnedProbeItem(probe: ProbeResult, set: string): ProbeItem {
  const item = pinnedItem(probe.items ?? [], set, (i) => [i.label, i.path], probe.name);
  if (item.backupStatus !== undefined && item.backupStatus !== 'DONE') throw backupNotDone(item.label, item.backupStatus);
  if (item.status === 'unusable') throw pinnedUnusable(probe.kind, item.path ?? item.label, set, item.findings.find((f) => f.level === 'error')?.message);
  return item;
}

export function chooseItem(probe: ProbeResult, target: ResolvedTarget, set?: string): ProbeItem {
  if (set) return pinnedProbeItem(probe, set);
  const chosen = chooseItems(probe, target)[0];
  if (!chosen) {
    const reasons = (probe.items ?? []).map((i) => `${i.label}: ${i.status}${i.findings[0] ? ` (${i.findings[0].message})` : ''}`);
    throw failure('NO_USABLE_ITEM', `Source "${probe.name}" has nothing usable from before the target.`, {
      hint: 'Run `undrop probe` to see every source and choose another with --source.',
      details: reasons.slice(0, 10),
    });
  }
  return chosen;
}
