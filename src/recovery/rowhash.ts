// rowhash64 (and rowhash128, kept for checksums recorded before): table
// checksums that hash each row's values as stored (hash_record_extended,
// PostgreSQL ≥ 14) instead of the row's text, about half the CPU of
// hash128, which spends most of its time rendering text.
//
// Hashing by value is only a yardstick when both servers hash every column
// alike, so it is chosen per table, from the column types read where the
// rows are read, and only for types listed here: built-in (their OIDs and
// hash functions are the same on every server), with an extended hash
// support function that hashes the value itself. Everything else falls back
// to hash128: enums (hashed by OID, which differs between servers), types
// without an extended hash (json, xml, point, money, bit, …), arrays (their
// hash ignores dimensions and bounds, which `=` does not), extension types
// (citext hashes case-insensitively), and any column, domain, composite
// field or range under a nondeterministic collation (hashed by ICU sort key).
// Domains, composites and ranges are looked through, recursively.
//
// What it proves: the two tables hold the same rows under each column type's
// own equality (the `=` that unique keys and joins use). That is a little less
// than the text: numeric 1.0 = 1.00 (also inside jsonb), float -0 = 0,
// interval '1 day' = '24 hours' hash alike. Copy back moves rows with binary
// COPY, which keeps scale, sign and units as they are, so a recovered copy
// cannot differ only that way; the lab's truth stays on hash128 (text).
import type pg from 'pg';
import { qualified, type TableName } from '../postgres/identifiers.js';

/** Built-in types whose extended hash is a function of the value: OID → a sample literal for the canary. */
export const ROWHASH_TYPES: ReadonlyMap<number, string> = new Map([
  [16, 'true'],
  [17, "'\\x00ff'::bytea"],
  [18, `'c'::"char"`],
  [19, "'undrop'::name"],
  [20, '1234567890123::int8'],
  [21, '12::int2'],
  [23, '123456::int4'],
  [25, "'undrop canary (row)'::text"],
  [26, '42::oid'],
  [700, '1.5::float4'],
  [701, '-2.25::float8'],
  [650, "'10.1.0.0/16'::cidr"],
  [869, "'192.168.1.7/24'::inet"],
  [829, "'08:00:2b:01:02:03'::macaddr"],
  [774, "'08:00:2b:01:02:03:04:05'::macaddr8"],
  [1042, "'ab'::bpchar(4)"],
  [1043, "'xyz'::varchar(9)"],
  [1082, "'2026-11-29'::date"],
  [1083, "'12:34:56.789'::time"],
  [1114, "'2026-11-29 12:34:56.789'::timestamp"],
  [1184, "'2026-11-29 12:34:56.789+00'::timestamptz"],
  [1186, "'1 year 2 mons 3 days 04:05:06'::interval"],
  [1266, "'12:34:56+02'::timetz"],
  [1700, '12345.6789::numeric'],
  [2950, "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid"],
  [3802, `'{"k": [1, 2.5, "s", null, true]}'::jsonb`],
  [3220, "'0/16B3748'::pg_lsn"],
]);

/** hash_record_extended: PostgreSQL 14. */
export const ROWHASH_MIN_VERSION = 140000;

/**
 * rowhash128 (no longer chosen; recomputes checksums recorded with it): per
 * row, its value hash under seed 0 and under seed 1, each mixed through
 * hashtextextended. hash_record_extended combines column hashes linearly
 * (h = 31·h + column), so a plain sum over rows would be the per-column sums
 * only, blind to values swapped between rows; the mix makes each row's
 * contribution a non-linear function of the whole row. `r` is the row. Each
 * reference builds and hashes the row again: twice per row.
 */
export function rowHashTerms(r: string): [string, string] {
  return [`hashtextextended(hash_record_extended(${r}, 0)::text, 0)`, `hashtextextended(hash_record_extended(${r}, 1)::text, 0)`];
}

/**
 * rowhash64: one 64-bit value hash per row (seed 0), as text, computed once
 * (the caller keeps it in a subquery that is not flattened), then mixed twice,
 * independently, by rowHashMixes. The row's identity is those 64 bits: two
 * different rows collide with probability 2⁻⁶⁴, ample against accidental
 * damage, which is what verification guards against (not an adversary).
 */
export function rowHashValue(r: string): string {
  return `hash_record_extended(${r}, 0)::text`;
}

/** The two sums' terms for a row hash `h` (rowHashValue): non-linear, so values swapped between rows show. */
export function rowHashMixes(h: string): [string, string] {
  return [`hashtextextended(${h}, 0)`, `hashtextextended(${h}, 1)`];
}

/** One record of every listed type, hashed as rowhash64 hashes a row: two servers that agree on it hash those types alike. */
export function rowCanarySql(): string {
  const row = `ROW(${[...ROWHASH_TYPES.values()].join(', ')})`;
  const [a, b] = rowHashMixes('h');
  return `SELECT (${a})::text || '/' || (${b})::text AS canary FROM (SELECT ${rowHashValue(row)} AS h OFFSET 0) AS hashed`;
}

/** One type met under a table's columns (looking through domains, composites, ranges). */
export interface ColumnTypeNode {
  oid: number;
  /** format_type() of it. */
  type: string;
  /** pg_type.typtype: b base, c composite, d domain, e enum, p pseudo, r range, m multirange. */
  typtype: string;
  /** The collation it is hashed under (null: none). */
  collation: string | null;
  deterministic: boolean | null;
}

export type RowHashVerdict = { eligible: true } | { eligible: false; reason: string };

/** Whether every type under a table's columns hashes by value alike on any server. Pure. */
export function rowHashVerdict(nodes: readonly ColumnTypeNode[]): RowHashVerdict {
  if (!nodes.length) return { eligible: false, reason: 'no column types read' };
  for (const n of nodes) {
    if (n.deterministic === false) return { eligible: false, reason: `collation ${n.collation} is nondeterministic (hashed by sort key)` };
    if (n.typtype === 'd' || n.typtype === 'c' || n.typtype === 'r') continue; // looked through: their parts are nodes too
    if (n.typtype === 'e') return { eligible: false, reason: `${n.type} is an enum (hashed by OID, which differs between servers)` };
    if (n.typtype !== 'b' || !ROWHASH_TYPES.has(n.oid)) return { eligible: false, reason: `${n.type} has no by-value hash undrop relies on` };
  }
  return { eligible: true };
}

// Every type under each table's columns, with the collation it is hashed
// under; $1 is the tables' qualified names (resolved where the rows are read).
const TYPE_NODES_SQL = `
WITH RECURSIVE tbl AS (
  SELECT i, to_regclass(name) AS rel FROM unnest($1::text[]) WITH ORDINALITY AS x(name, i)
), node AS (
  SELECT tbl.i, a.atttypid AS typ, a.attcollation AS coll, 0 AS depth
  FROM tbl JOIN pg_attribute a ON a.attrelid = tbl.rel AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT node.i, sub.typ, sub.coll, node.depth + 1
  FROM node JOIN pg_type t ON t.oid = node.typ
  CROSS JOIN LATERAL (
    SELECT t.typbasetype AS typ, t.typcollation AS coll WHERE t.typtype = 'd'
    UNION ALL
    SELECT a.atttypid, a.attcollation FROM pg_attribute a WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT r.rngsubtype, r.rngcollation FROM pg_range r WHERE t.typtype = 'r' AND r.rngtypid = t.oid
  ) sub
  WHERE node.depth < 16
)
SELECT node.i::int AS i, node.typ::int8 AS oid, format_type(node.typ, NULL) AS type, t.typtype::text AS typtype,
       co.collname::text AS collation, co.collisdeterministic AS deterministic
FROM node JOIN pg_type t ON t.oid = node.typ
LEFT JOIN pg_collation co ON co.oid = node.coll AND node.coll <> 0`;

/** The verdict per table, from its column types on this server (one catalog query for all of them). */
export async function rowHashVerdicts(client: pg.Client, tables: readonly TableName[]): Promise<RowHashVerdict[]> {
  const r = await client.query<{ i: number; oid: string; type: string; typtype: string; collation: string | null; deterministic: boolean | null }>(TYPE_NODES_SQL, [tables.map((t) => qualified(t))]);
  const nodes: ColumnTypeNode[][] = tables.map(() => []);
  for (const x of r.rows) nodes[x.i - 1]!.push({ oid: Number(x.oid), type: x.type, typtype: x.typtype, collation: x.collation, deterministic: x.deterministic });
  return nodes.map(rowHashVerdict);
}
