// colhash64: rowhash64's yardstick (each value hashed by its type's own
// extended hash, row identity 64 bits) without building the row as a record.
// rowhash64 spends about a third of its CPU forming each row as a composite
// value (detoasting every large value into it) and taking it apart again
// (hash_record_extended), then rendering the 64-bit hash as text to mix it.
// Here each column is hashed where it lies, with the type's extended hash
// function called directly under a seed of its own (its position, so equal
// values in two columns do not cancel), the column hashes XORed, and the
// row's 64 bits mixed through two 32-bit halves — no record, no text.
// Measured (lab tables, backend CPU, mean of 8 × median of 3): shipments
// 350 k rows 171–195 ms against rowhash64's 232–276; shipment_events 525 k
// rows 200–228 against 315–320.
//
// Which types are hashed directly: built-ins whose hash support function is
// callable from SQL on the type itself (or a binary-coercible one: varchar →
// text, cidr → inet), and two whose function takes another type, through an
// exact conversion: timestamptz as the UTC timestamp it stores
// (`timezone(interval '0', v)`: no session time zone, no zone lookup,
// infinities kept), boolean as 0/1. The others rowhash64 accepts (bytea,
// date, domains, composites, ranges) are hashed together as one record of
// just those columns, as rowhash64 hashes them; that record cost a third of
// a table's checksum when it held only a timestamptz (lab tables, backend
// CPU: shipments 215 → 158 ms, shipment_events 188 → 140 ms converted). A
// NULL hashes to its column's seed; a NOT NULL column skips that test.
// Which tables may use it is rowhash64's verdict (rowhash.ts): the same
// types, the same guarantees and the same limits.
import type pg from 'pg';
import { qualified, type TableName } from '../postgres/identifiers.js';
import { ROWHASH_TYPES } from './rowhash.js';

/** Built-in type OID → its extended hash function, callable in SQL on a value of that type. */
export const COLHASH_FUNCTIONS: ReadonlyMap<number, string> = new Map([
  [18, 'hashcharextended'],
  [19, 'hashnameextended'],
  [20, 'hashint8extended'],
  [21, 'hashint2extended'],
  [23, 'hashint4extended'],
  [25, 'hashtextextended'],
  [26, 'hashoidextended'],
  [650, 'hashinetextended'],
  [700, 'hashfloat4extended'],
  [701, 'hashfloat8extended'],
  [774, 'hashmacaddr8extended'],
  [829, 'hashmacaddrextended'],
  [869, 'hashinetextended'],
  [1042, 'hashbpcharextended'],
  [1043, 'hashtextextended'],
  [1083, 'time_hash_extended'],
  [1114, 'timestamp_hash_extended'],
  [1186, 'interval_hash_extended'],
  [1266, 'timetz_hash_extended'],
  [1700, 'hash_numeric_extended'],
  [2950, 'uuid_hash_extended'],
  [3220, 'pg_lsn_hash_extended'],
  [3802, 'jsonb_hash_extended'],
]);

/** Built-in type OID → its extended hash function and the exact conversion to the type that function takes. */
export const COLHASH_CONVERSIONS: ReadonlyMap<number, { fn: string; convert: (value: string) => string }> = new Map([
  [1184, { fn: 'timestamp_hash_extended', convert: (v: string) => `timezone(interval '0', ${v})` }],
  [16, { fn: 'hashint4extended', convert: (v: string) => `(${v})::int4` }],
]);

/** One column of the table, in order (dropped columns left out), as the checksum hashes it. */
export interface HashedColumn {
  /** An SQL expression for the value: `r."name"` for a table, a literal for the canary. */
  value: string;
  typeOid: number;
  /** Declared NOT NULL: its hash needs no NULL test (the same value either way). */
  notNull?: boolean;
}

/** The row's 64-bit hash: direct column hashes and one record of the rest, XORed. Pure. */
export function colHashRow(columns: readonly HashedColumn[]): string {
  const terms: string[] = [];
  const rest: string[] = [];
  columns.forEach((c, i) => {
    const conversion = COLHASH_CONVERSIONS.get(c.typeOid);
    const fn = COLHASH_FUNCTIONS.get(c.typeOid) ?? conversion?.fn;
    if (!fn) return void rest.push(c.value);
    const hash = `${fn}(${conversion ? conversion.convert(c.value) : c.value}, ${i + 1})`;
    terms.push(c.notNull ? hash : `coalesce(${hash}, ${i + 1})`);
  });
  if (rest.length) terms.push(`hash_record_extended(ROW(${rest.join(', ')}), 0)`);
  return terms.length ? terms.join(' # ') : '0::int8';
}

/** The two sums' terms for a row hash `h`: each a non-linear function of all 64 bits (two 32-bit halves hashed). Pure. */
export function colHashMixes(h: string): [string, string] {
  const lo = `(${h} & 4294967295)`;
  const hi = `(${h} >> 32)`;
  return [`hashint8extended(${lo}, 0) # hashint8extended(${hi}, 1)`, `hashint8extended(${lo}, 2) # hashint8extended(${hi}, 3)`];
}

/** A table column as colhash64 needs it. */
export interface ColHashColumn {
  name: string;
  typeOid: number;
  notNull?: boolean;
}

/** The table's columns in order, with their types and NOT NULL, as this server has them. */
export async function colHashColumns(client: pg.Client, table: TableName): Promise<ColHashColumn[]> {
  const r = await client.query<{ name: string; oid: string; notnull: boolean }>(
    'SELECT attname AS name, atttypid::int8 AS oid, attnotnull AS notnull FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum',
    [qualified(table)],
  );
  return r.rows.map((x) => ({ name: x.name, typeOid: Number(x.oid), notNull: x.notnull }));
}

/** A row of every type rowhash64 accepts, hashed as colhash64 hashes a row: two servers that agree on it hash those types alike. */
export function colCanarySql(): string {
  const h = colHashRow([...ROWHASH_TYPES.entries()].map(([typeOid, value]) => ({ value, typeOid })));
  const [a, b] = colHashMixes('h');
  return `SELECT (${a})::text || '/' || (${b})::text AS canary FROM (SELECT ${h} AS h OFFSET 0) AS hashed`;
}
