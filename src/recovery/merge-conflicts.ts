// Collisions in a merge, the pure half: how a recovered row whose key the
// live table already holds is classified (same content on every shared
// column = already there, "skipped"; different = a conflict), the SQL that
// does it set-based in PostgreSQL, the name of the side table that keeps the
// conflicting pairs, and what each --on-conflict choice leaves unresolved.
// After a DROP + recreate, identity columns and sequences restart, so the
// application's new rows reuse the lost rows' keys: merge must say so.
import { failure } from '../errors.js';
import { quoteIdent } from '../postgres/identifiers.js';
import { withSuffix } from './side-schema.js';

export type OnConflict = 'fail' | 'keep-live' | 'rekey-live';
export const ON_CONFLICT_CHOICES: readonly OnConflict[] = ['fail', 'keep-live', 'rekey-live'];

type Rel = { schema: string; name: string };
const q = quoteIdent;
const qn = (t: Rel) => `${q(t.schema)}.${q(t.name)}`;

/** `<table>__conflicts`, in the side schema next to the recovered table (fits in 63 bytes). */
export function conflictsTableName(recovered: Rel): Rel {
  return { schema: recovered.schema, name: withSuffix(recovered.name, '__conflicts') };
}

/** Column names of the conflicts table: the key columns, then the two rows and what became of them. */
export const CONFLICT_COLUMNS = ['recovered_row', 'live_row', 'kind', 'resolution', 'live_new_key'] as const;

/** Key columns as they are named in the conflicts table (prefixed when they would clash with ours). */
export function keyColumnAliases(key: string[]): string[] {
  return key.map((k) => ((CONFLICT_COLUMNS as readonly string[]).includes(k) ? `key_${k}` : k));
}

/**
 * CREATE TABLE … AS of the recovered rows whose key the live table holds
 * with different content (compared as text on every shared column, so types
 * without an equality operator, such as json, compare too; equal text is the
 * same value for the same type). Pure.
 */
export function conflictsTableSql(live: Rel, recovered: Rel, shared: string[], key: string[]): string {
  const aliases = keyColumnAliases(key);
  return [
    `CREATE TABLE ${qn(conflictsTableName(recovered))} AS`,
    `SELECT ${key.map((k, i) => `r.${q(k)} AS ${q(aliases[i]!)}`).join(', ')},`,
    `       to_jsonb(r) AS recovered_row, to_jsonb(l) AS live_row, 'key'::text AS kind, 'unresolved'::text AS resolution, NULL::text AS live_new_key`,
    conflictsFrom(live, recovered, shared, key),
  ].join('\n');
}

/** Count of conflicting pairs, read-only (the preview before a confirmation). Pure. */
export function conflictCountSql(live: Rel, recovered: Rel, shared: string[], key: string[]): string {
  return `SELECT count(*)::bigint AS n\n${conflictsFrom(live, recovered, shared, key)}`;
}

function conflictsFrom(live: Rel, recovered: Rel, shared: string[], key: string[]): string {
  const match = key.map((k) => `l.${q(k)} = r.${q(k)}`).join(' AND ');
  const text = (side: 'l' | 'r') => `ROW(${shared.map((c) => `${side}.${q(c)}::text`).join(', ')})`;
  return [`  FROM ${qn(recovered)} AS r JOIN ${qn(live)} AS l ON ${match}`, ` WHERE ${shared.length ? `${text('r')} IS DISTINCT FROM ${text('l')}` : 'false'}`].join('\n');
}

/** Keys (as JSON arrays) of recovered rows still missing from the live table: after the insert, those another unique constraint kept out. Pure. */
export function missingKeysSql(live: Rel, recovered: Rel, key: string[]): string {
  const match = key.map((k) => `l.${q(k)} = r.${q(k)}`).join(' AND ');
  return `SELECT jsonb_build_array(${key.map((k) => `r.${q(k)}`).join(', ')}) AS k FROM ${qn(recovered)} AS r WHERE NOT EXISTS (SELECT 1 FROM ${qn(live)} AS l WHERE ${match})`;
}

/** Add the recovered rows with these keys ($1, JSON arrays) to the conflicts table as kind other-unique. Pure. */
export function addOtherUniqueSql(recovered: Rel, key: string[], resolution: string): string {
  return [
    `INSERT INTO ${qn(conflictsTableName(recovered))}`,
    `SELECT ${key.map((k) => `r.${q(k)}`).join(', ')}, to_jsonb(r), NULL::jsonb, 'other-unique', ${`'${resolution.replace(/'/g, "''")}'`}, NULL`,
    `  FROM ${qn(recovered)} AS r WHERE jsonb_build_array(${key.map((k) => `r.${q(k)}`).join(', ')}) = ANY($1::jsonb[])`,
  ].join('\n');
}

export interface ConflictCounts {
  /** Recovered rows whose key the live table holds with other content. */
  keyConflicts: number;
  /** Recovered rows kept out by another unique constraint of the live table. */
  otherUnique: number;
}

/** What stays unresolved under a choice: those rows make merge refuse (exit 1). Pure. */
export function unresolvedUnder(onConflict: OnConflict, c: ConflictCounts): number {
  switch (onConflict) {
    case 'fail':
      return c.keyConflicts + c.otherUnique;
    case 'keep-live':
      return 0; // explicit consent: the live rows win
    case 'rekey-live':
      return c.otherUnique; // rekeying frees the keys; other unique values still clash
  }
}

/** Classify one pair of rows the way the SQL does (for tests and previews): same key, then equal text on every shared column. Pure. */
export function classifyPair(recovered: Record<string, unknown>, live: Record<string, unknown> | undefined, shared: string[]): 'insert' | 'skipped' | 'conflict' {
  if (!live) return 'insert';
  const text = (v: unknown) => (v === null || v === undefined ? null : typeof v === 'object' ? JSON.stringify(v) : String(v));
  return shared.every((c) => text(recovered[c]) === text(live[c])) ? 'skipped' : 'conflict';
}

export interface ConflictTableSummary {
  name: string;
  conflicts: number;
  otherUnique: number;
  conflictsTable: string;
}

/** The MERGE_CONFLICTS error: names the tables, the counts, the conflicts tables and the choices. Pure. */
export function mergeConflictsError(tables: ConflictTableSummary[], onConflict: OnConflict, details: string[] = []) {
  const bad = tables.filter((t) => t.conflicts + t.otherUnique > 0);
  const what = bad
    .map((t) => {
      const parts = [t.conflicts ? `${t.conflicts} recovered row(s) whose key a live row now holds with other content` : '', t.otherUnique ? `${t.otherUnique} kept out by another unique constraint` : ''].filter(Boolean);
      return `${t.name}: ${parts.join(', ')} (see ${t.conflictsTable})`;
    })
    .join('; ');
  const why =
    onConflict === 'rekey-live'
      ? 'Rekeying the live rows freed the keys, but other unique values still clash.'
      : 'After a DROP + recreate the live keys restarted, so rows written since the incident reuse the keys of lost rows.';
  return failure('MERGE_CONFLICTS', `Merge stopped: ${what}. ${why} Nothing live was changed; the conflicting pairs are kept in the side schema.`, {
    hint:
      onConflict === 'rekey-live'
        ? 'Resolve the rows listed with kind = other-unique by hand, or use --on-conflict keep-live to leave them out.'
        : 'Choose: --on-conflict rekey-live (the post-incident rows get new keys, every recovered row goes in under its original key), --on-conflict keep-live (the live rows win; the recovered ones stay in the conflicts table), or resolve by hand and run again.',
    details,
  });
}
