// Order-independent table checksums, computed inside PostgreSQL. The same
// function is used for the lab's truth.json, for verify after copy back, and
// by the tests, so a recovered table is compared with exactly one yardstick.
//
// Each row's text form (the row as a composite value, columns in table order)
// is hashed with md5; the first and last 64 bits of every hash are summed as
// numeric. Sums do not depend on row order, duplicates count, and 2 × 64 bits
// make an accidental match practically impossible. Row text depends on a few
// session settings (time zone, date style, float digits, bytea output): the
// runner pins them, so both sides render values the same way.
import type pg from 'pg';
import { qualified, type TableName } from '../postgres/identifiers.js';

export interface TableChecksum {
  rows: number;
  /** "md5sum:<sum of high halves>:<sum of low halves>", or "empty" for no rows. */
  checksum: string;
}

/** Settings that make row text identical on both sides (applied with SET LOCAL inside the runner's transaction). */
export const CHECKSUM_SETTINGS: Readonly<Record<string, string>> = {
  TimeZone: 'UTC',
  DateStyle: 'ISO, YMD',
  IntervalStyle: 'postgres',
  extra_float_digits: '1',
  bytea_output: 'hex',
  lc_monetary: 'C',
};

export function checksumSettingsSql(): string {
  return Object.entries(CHECKSUM_SETTINGS)
    .map(([k, v]) => `SET LOCAL ${k} = '${v.replace(/'/g, "''")}'`)
    .join(';\n');
}

/** SELECT returning one row (rows bigint, hi numeric, lo numeric) for the table. Pure: no I/O. */
export function checksumSql(table: TableName): string {
  const t = qualified(table);
  return [
    'SELECT count(*)::bigint AS rows,',
    "  coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint::numeric), 0)::text AS hi,",
    "  coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint::numeric), 0)::text AS lo",
    `FROM (SELECT md5(r::text) AS h FROM ${t} AS r) AS hashed`,
  ].join('\n');
}

export function formatChecksum(rows: number, hi: string, lo: string): string {
  return rows === 0 ? 'empty' : `md5sum:${hi}:${lo}`;
}

/**
 * Row count and checksum of one table, in its own read-only transaction, or
 * with `inTransaction` inside the caller's (a savepoint that is rolled back
 * afterwards undoes the pinned settings).
 */
export async function tableChecksum(client: pg.Client, table: TableName, o: { inTransaction?: boolean } = {}): Promise<TableChecksum> {
  const begin = o.inTransaction ? 'SAVEPOINT undrop_checksum' : 'BEGIN READ ONLY';
  const end = o.inTransaction ? 'ROLLBACK TO SAVEPOINT undrop_checksum; RELEASE SAVEPOINT undrop_checksum' : 'COMMIT';
  await client.query(begin);
  let ok = false;
  try {
    await client.query(checksumSettingsSql());
    const r = await client.query<{ rows: string; hi: string; lo: string }>(checksumSql(table));
    const row = r.rows[0]!;
    const rows = Number(row.rows);
    ok = true;
    return { rows, checksum: formatChecksum(rows, row.hi, row.lo) };
  } finally {
    if (ok) await client.query(end);
    else await client.query(o.inTransaction ? 'ROLLBACK TO SAVEPOINT undrop_checksum; RELEASE SAVEPOINT undrop_checksum' : 'ROLLBACK').catch(() => {});
  }
}

/** Checksums of several tables on one connection, one after another. */
export async function tableChecksums(client: pg.Client, tables: TableName[]): Promise<TableChecksum[]> {
  const out: TableChecksum[] = [];
  for (const t of tables) out.push(await tableChecksum(client, t));
  return out;
}
