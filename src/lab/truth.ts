// Ground truth: per table a row count and an order-independent content
// checksum, computed in SQL. Anyone can recompute it on a restored copy with
// tableChecksum() (same session settings) and compare with truth.json.
import type pg from 'pg';
import { parseTableName, qualified } from '../postgres/identifiers.js';
import type { TableTruths } from './state.js';

/**
 * Session settings that fix the text form of every column type used
 * (timestamptz, numeric, jsonb), so the checksum does not depend on the
 * server's or client's configuration.
 */
export const CHECKSUM_SESSION = ["SET TimeZone = 'UTC'", "SET DateStyle = 'ISO, YMD'", "SET IntervalStyle = 'postgres'", 'SET extra_float_digits = 1', "SET bytea_output = 'hex'"];

/**
 * Sum over all rows of the first 64 bits of md5(row as text), as a signed
 * integer, summed in numeric: the same for any row order, changed by any
 * changed, missing or extra row.
 */
export function checksumSql(qualifiedTable: string): string {
  const t = qualified(parseTableName(qualifiedTable));
  return `SELECT count(*)::bigint AS rows, coalesce(sum(('x' || substr(md5(r::text), 1, 16))::bit(64)::bigint::numeric), 0)::text AS checksum FROM ${t} AS r`;
}

export const CHECKSUM_METHOD =
  "per table: count(*) and sum over rows of ('x'||substr(md5(row::text),1,16))::bit(64)::bigint, summed as numeric; session TimeZone=UTC, DateStyle='ISO, YMD', IntervalStyle=postgres, extra_float_digits=1";

export async function applyChecksumSession(client: pg.Client): Promise<void> {
  for (const s of CHECKSUM_SESSION) await client.query(s);
}

/** Count and checksum of one table as the client's current snapshot sees it. */
export async function tableChecksum(client: pg.Client, qualifiedTable: string): Promise<{ rows: number; checksum: string }> {
  await applyChecksumSession(client);
  const r = await client.query<{ rows: string; checksum: string }>(checksumSql(qualifiedTable));
  return { rows: Number(r.rows[0]!.rows), checksum: r.rows[0]!.checksum };
}

export async function tablesChecksums(client: pg.Client, tables: readonly string[]): Promise<TableTruths> {
  const out: TableTruths = {};
  for (const t of tables) out[t] = await tableChecksum(client, t);
  return out;
}
