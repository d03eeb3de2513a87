// Which destructive event is the incident. Pure, so the rules are unit-tested:
// an event that names a requested table beats any event that names none;
// undrop's own side schemas are never incidents; an event whose files no
// catalog could name comes only after the named ones, and one whose files were
// all born in the scanned WAL by a plain CREATE (a relation made after the
// catalog's point: a scratch table, a side schema) comes last.
import { type TableName, parseTableName, sameTable } from '../../postgres/identifiers.js';
import { Lsn } from '../../postgres/wal/lsn.js';
import type { EventRelation } from './types.js';

export interface RankableEvent {
  commitLsn: string;
  relations: EventRelation[];
}

export type EventClass = 'named' | 'unnamed' | 'unnamed-new' | 'other';

/** Schemas undrop made in production: undrop_* by default, and any recorded in an incident folder. */
export function isUndropSchema(schema: string, recorded: ReadonlySet<string> = new Set()): boolean {
  return /^undrop_/.test(schema) || recorded.has(schema);
}

function schemaOf(displayName: string): string {
  try {
    return parseTableName(displayName).schema ?? 'public';
  } catch {
    return '';
  }
}

/**
 * The event only dropped undrop's own side schemas: every named relation lives
 * in one, and any unnamed file was born after the catalog by a plain CREATE
 * (a table added to the side schema later, such as promote's __conflicts).
 */
export function isUndropEvent(e: RankableEvent, recorded: ReadonlySet<string> = new Set()): boolean {
  const named = e.relations.filter((r) => r.name !== null);
  return named.length > 0 && named.every((r) => isUndropSchema(schemaOf(r.name!), recorded)) && e.relations.every((r) => r.name !== null || (r.bornAt !== undefined && !r.bornByRewrite));
}

export function namesTable(r: EventRelation, tables: readonly TableName[]): boolean {
  if (!r.name) return false;
  try {
    const t = parseTableName(r.name);
    return tables.some((x) => sameTable(x, t));
  } catch {
    return false;
  }
}

/** Where an event stands against the requested tables (none requested: any named event is "named"). */
export function classifyEvent(e: RankableEvent, tables: readonly TableName[]): EventClass {
  // DROP DATABASE names a database, no table: a candidate only when no tables were asked for.
  if (e.relations.length === 0) return tables.length === 0 ? 'named' : 'other';
  const named = e.relations.filter((r) => r.name !== null);
  if (tables.length === 0 ? named.length > 0 : named.some((r) => namesTable(r, tables))) return 'named';
  const unnamed = e.relations.filter((r) => r.name === null);
  if (unnamed.length === 0) return 'other';
  // Made by a plain CREATE after the catalog's point: a newer relation, not one the catalog knew.
  return unnamed.every((r) => r.bornAt !== undefined && !r.bornByRewrite) ? 'unnamed-new' : 'unnamed';
}

const ORDER: Record<EventClass, number> = { named: 0, unnamed: 1, 'unnamed-new': 2, other: 3 };

/** Candidates, best first: named before unnamed, newest first within a class; events naming only other tables dropped. */
export function rankEvents<E extends RankableEvent>(events: readonly E[], tables: readonly TableName[]): E[] {
  return events
    .map((e) => ({ e, c: classifyEvent(e, tables) }))
    .filter((x) => x.c !== 'other')
    .sort((a, b) => ORDER[a.c] - ORDER[b.c] || Lsn.compare(b.e.commitLsn, a.e.commitLsn))
    .map((x) => x.e);
}

/** Why an event has no names, in one line (the guided picker folds unnamed events under it). */
export function unnamedReason(e: RankableEvent): string | undefined {
  const unnamed = e.relations.filter((r) => r.name === null);
  if (unnamed.length === 0) return undefined;
  if (unnamed.every((r) => r.bornAt !== undefined && !r.bornByRewrite)) return 'its files were created after the newest catalog (relations born after the backup, e.g. scratch tables)';
  return 'no catalog from before it knows its files';
}
