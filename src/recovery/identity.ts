// The identity check: verify proves the copy equals its source; this proves
// the source holds the lost table and not its successor. Physical sources
// (PITR, pgBackRest, snapshot, replica): the materialized table's relfilenode
// is one the located event removed, or its row count is the one the event
// removed. Dumps: the dump was taken before the event. A mismatch stops the
// run before anything is published in production (recover may gate copy
// back's publish on the verdict while a hand-given target's WAL scan ends).
import { failure } from '../errors.js';
import { withClient } from '../postgres/connect.js';
import { type TableName, displayName, qualified } from '../postgres/identifiers.js';
import type { Materialized } from '../sources/types.js';
import type { LocatedEvent } from './locate/index.js';
import { Lsn } from '../postgres/wal/lsn.js';
import { namesTable } from './locate/rank.js';
import type { ResolvedTarget } from '../sources/target.js';

export type IdentityStatus = 'proven' | 'not-proven' | 'failed';

export interface TableIdentity {
  /** schema.table as the user named it. */
  name: string;
  status: IdentityStatus;
  /** How it was proven, or why not. */
  reason: string;
  /** The materialized table: its relfilenode (in the source) and rows. */
  source: { relfilenode: number | null; rows: number | null };
  /** What the located event removed, where known. */
  event: { xid: string; relfilenodes: number[]; rows: number | null } | null;
}

export interface IdentityInput {
  tables: readonly TableName[];
  /** The located event the target came from; undefined for a target given by hand. */
  event?: LocatedEvent;
  /** How the target was given, when not located ("--target time:…"). */
  targetOrigin: string;
  sourceKind: string;
  sourceName: string;
  materialized: Pick<Materialized, 'recoveryPoint' | 'tables'>;
  /** relfilenode of each table in the source, by display name. */
  relfilenodes: Map<string, number | null>;
}

/** Pure: the verdict per table (unit-tested). */
export function judgeIdentity(i: IdentityInput): TableIdentity[] {
  return i.tables.map((t) => {
    const name = displayName({ schema: t.schema ?? 'public', name: t.name });
    const rows = i.materialized.tables.find((x) => x.name === name)?.rows ?? null;
    const relfilenode = i.relfilenodes.get(name) ?? null;
    const src = { relfilenode, rows };
    const e = i.event;
    if (!e) return { name, status: 'not-proven', reason: `identity not proven: no destructive transaction in the WAL names ${name} around the target (${i.targetOrigin}), so nothing says which table was lost`, source: src, event: null };
    if (e.kind === 'drop-database') return { name, status: 'not-proven', reason: 'identity not proven: DROP DATABASE names no table', source: src, event: { xid: e.xid, relfilenodes: [], rows: null } };
    const rel = e.relations.find((r) => namesTable(r, [t]));
    const unnamedFiles = e.relations.filter((r) => r.name === null).flatMap((r) => r.files);
    const files = rel ? [rel.relfilenode, ...rel.files] : unnamedFiles;
    const lostRows = rel && (rel.rowsKind === 'exact' || (e.kind !== 'delete' && rel.rowsKind === 'wal-records')) ? (rel.rows ?? null) : null;
    const ev = { xid: e.xid, relfilenodes: [...new Set(files)], rows: lostRows };
    if (i.sourceKind === 'dump') {
      const at = i.materialized.recoveryPoint.time;
      if (!at) return { name, status: 'not-proven', reason: 'identity not proven: the dump\'s time is unknown', source: src, event: ev };
      if (Date.parse(at) < Date.parse(e.commitTime)) return { name, status: 'proven', reason: `the dump (${at}) predates transaction ${e.xid} (${e.commitTime})`, source: src, event: ev };
      return { name, status: 'failed', reason: `the dump (${at}) was taken after transaction ${e.xid} (${e.commitTime}): it holds the table that replaced the lost one`, source: src, event: ev };
    }
    if (relfilenode !== null && ev.relfilenodes.includes(relfilenode)) {
      return { name, status: 'proven', reason: `relfilenode ${relfilenode} in ${i.sourceName} is the file transaction ${e.xid} removed`, source: src, event: ev };
    }
    if (lostRows !== null && rows !== null && rows === lostRows) {
      return { name, status: 'proven', reason: `${rows} rows in ${i.sourceName}, the count transaction ${e.xid} removed`, source: src, event: ev };
    }
    if (relfilenode === null && lostRows === null) return { name, status: 'not-proven', reason: `identity not proven: neither the relfilenode nor the row count of ${name} in ${i.sourceName} can be compared with transaction ${e.xid}`, source: src, event: ev };
    const removed = ev.relfilenodes.length ? `relfilenode ${ev.relfilenodes.join('/')}` : 'files no catalog could name';
    return {
      name,
      status: 'failed',
      reason: `${i.sourceName} holds ${name} as relfilenode ${relfilenode ?? '?'} with ${rows ?? '?'} rows, but transaction ${e.xid} removed ${removed}${lostRows !== null ? ` with ${lostRows} rows` : ''}: the source holds another table of that name (a successor), not the lost one`,
      source: src,
      event: ev,
    };
  });
}

/**
 * For a target given by hand: the located event that removed the version of
 * the tables alive at the target — the first event naming them committed at
 * or after the target; when the target lies after every such event (forced
 * past the incident), the newest one, which then fails the check. An xid's
 * position is its event's commit, else `xidCommitLsn` (the scan's). Undefined
 * when the target's position is unknown (a restore point, an xid locate did
 * not see) or nothing names the tables.
 */
export function identityEventFor(target: ResolvedTarget, named: readonly LocatedEvent[], all: readonly LocatedEvent[], xidCommitLsn?: string): LocatedEvent | undefined {
  if (named.length === 0) return undefined;
  const oldestFirst = [...named].sort((a, b) => Lsn.compare(a.commitLsn, b.commitLsn));
  let at: ((e: LocatedEvent) => boolean) | undefined;
  if (target.kind === 'latest') at = () => false;
  else if (target.kind === 'xid' && target.xid) {
    // the xid's commit: its event, or where the scan read it (a DROP of other tables is no event of these)
    const ownLsn = all.find((e) => e.xid === target.xid)?.commitLsn ?? xidCommitLsn;
    if (ownLsn) at = (e) => Lsn.compare(e.commitLsn, ownLsn) >= 0;
  } else if (target.kind === 'lsn' && target.commitLsn) at = (e) => Lsn.compare(e.commitLsn, target.commitLsn!) >= 0;
  else if (target.kind === 'time' && target.time) at = (e) => Date.parse(e.commitTime) >= Date.parse(target.time!);
  if (!at) return undefined;
  return oldestFirst.find(at) ?? oldestFirst[oldestFirst.length - 1];
}

/** relfilenodes of the tables in the materialized instance (physical copies keep the original numbers). */
export async function materializedRelfilenodes(m: Pick<Materialized, 'conn' | 'database' | 'sourceRelfilenodes'>, tables: readonly TableName[]): Promise<Map<string, number | null>> {
  if (m.sourceRelfilenodes) return new Map(Object.entries(m.sourceRelfilenodes));
  return withClient({ ...m.conn, database: m.database }, async (c) => {
    const out = new Map<string, number | null>();
    for (const t of tables) {
      const r = await c.query<{ f: string | null }>('select pg_relation_filenode(to_regclass($1))::int8::text as f', [qualified(t)]);
      const f = r.rows[0]?.f;
      out.set(displayName({ schema: t.schema ?? 'public', name: t.name }), f ? Number(f) : null);
    }
    return out;
  }, { applicationName: 'undrop identity' });
}

/** Throw before production is written when any table failed. */
export function assertIdentity(results: readonly TableIdentity[]): void {
  const bad = results.filter((r) => r.status === 'failed');
  if (!bad.length) return;
  throw failure('IDENTITY_MISMATCH', `The source does not hold the lost table${bad.length > 1 ? 's' : ''}: ${bad.map((b) => b.reason).join('; ')}.`, {
    hint: 'Nothing was published in production, and nothing undrop wrote is left there. The target is probably after the incident: run `undrop locate --tables …` and pass the incident\'s --target xid:N (or choose another source with --source).',
    details: bad.map((b) => `${b.name}: source relfilenode ${b.source.relfilenode ?? '?'}, ${b.source.rows ?? '?'} rows; event xid ${b.event?.xid ?? '?'} removed relfilenode ${b.event?.relfilenodes.join('/') || '?'}${b.event?.rows != null ? `, ${b.event.rows} rows` : ''}`),
  });
}
