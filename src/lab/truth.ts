// Ground truth: per table a row count and an order-independent content
// checksum, computed in SQL. Anyone can recompute it on a restored copy with
// tableChecksum() (same session settings) and compare with truth.json.
import type pg from 'pg';
import { parseTableName } from '../postgres/identifiers.js';
import { tableChecksum as checksumOf } from '../recovery/checksum.js';
import type { TableTruths } from './state.js';

/** How truth.json's checksums are computed: src/recovery/checksum.ts, the same yardstick verify uses. */
export const CHECKSUM_METHOD =
  "per table: count(*) and, as 'hash128:<a>:<b>', the sums over all rows of hashtextextended(row::text, 0) and hashtextextended(row::text, 1) (src/recovery/checksum.ts; 'md5sum:<hi>:<lo>' in labs made before: the sums of md5(row::text)'s high and low 64 bits); TimeZone=UTC, DateStyle='ISO, YMD', IntervalStyle=postgres, extra_float_digits=1, bytea_output=hex";

/** Count and checksum of one table; `inTransaction` keeps the caller's open transaction (its snapshot, its locks). */
export async function tableChecksum(client: pg.Client, qualifiedTable: string, o: { inTransaction?: boolean } = {}): Promise<{ rows: number; checksum: string }> {
  // always hash128 (text): every comparison with truth.json recomputes with the algorithm it names
  return checksumOf(client, parseTableName(qualifiedTable), { ...o, algorithm: 'hash128' });
}

export async function tablesChecksums(client: pg.Client, tables: readonly string[], o: { inTransaction?: boolean } = {}): Promise<TableTruths> {
  const out: TableTruths = {};
  for (const t of tables) out[t] = await tableChecksum(client, t, o);
  return out;
}
