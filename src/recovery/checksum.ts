// Order-independent table checksums, computed inside PostgreSQL. The same
// function is used for the lab's truth.json, for verify after copy back, and
// by the tests, so a recovered table is compared with exactly one yardstick.
//
// Each row's text form (the row as a composite value, columns in table order)
// is hashed; the sums over all rows do not depend on row order, and
// duplicates count. Five algorithms, named in the checksum string:
//   colhash64  each column's value hashed as stored by its type's own hash,
//            where it lies (colhash.ts): rowhash64's yardstick without
//            building each row as a record, about 0.7× its CPU; chosen per
//            table where rowhash64 could be and both servers agree on its
//            canary too.
//   rowhash64  the row's values hashed as stored, without rendering text
//            (rowhash.ts), one 64-bit hash per row summed through two
//            independent mixes: chosen per table by copy back and verify
//            where both servers are PostgreSQL ≥ 14, hash alike, and every
//            column type hashes by value identically on both; about half
//            the CPU of hash128, 0.6× that of rowhash128.
//   rowhash128  the same, with the row hashed twice (seeds 0 and 1): chosen
//            before rowhash64, kept to recompute checksums recorded with it.
//   hash128  sum of hashtextextended(row, 0) and of hashtextextended(row, 1)
//            (two independent 64-bit hashes, 128 bits together): about 3×
//            cheaper than md5, the default.
//   md5sum   sums of the high and low 64 bits of md5(row): the fallback when
//            two servers might hash differently. hashtextextended is the hash
//            that hash partitioning uses, and pg_dump documents that its
//            values can differ across architectures (byte order) and
//            encodings, so before comparing across servers chooseAlgorithm()
//            checks both servers' server_encoding and a canary hash.
// A recorded checksum is always recomputed with the algorithm it names
// (algorithmOf). Row text depends on a few session settings (time zone, date style, float
// digits, bytea output): the runner pins them, so both sides render values
// the same way.
import type pg from 'pg';
import { qualified, quoteIdent, type TableName } from '../postgres/identifiers.js';
import { HASHING_OFF } from './bench-control.js';
import { colCanarySql, type ColHashColumn, colHashColumns, colHashMixes, colHashRow } from './colhash.js';
import { ROWHASH_MIN_VERSION, rowCanarySql, rowHashMixes, rowHashTerms, rowHashValue, type RowHashVerdict, rowHashVerdicts } from './rowhash.js';

export type ChecksumAlgorithm = 'colhash64' | 'rowhash64' | 'rowhash128' | 'hash128' | 'md5sum';

export const DEFAULT_ALGORITHM: ChecksumAlgorithm = 'hash128';

export interface TableChecksum {
  rows: number;
  /** "<algorithm>:<sum 1>:<sum 2>" (colhash64, rowhash64, rowhash128, hash128 or md5sum), or "empty" for no rows. */
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

// The whole row is `r.*`, never a bare `r`: a table with a column named r
// would make `r` that column, and the checksum would cover one column only.
const ROW = 'r.*';

/**
 * SELECT returning one row (rows bigint, hi numeric, lo numeric) for the table. Pure: no I/O. colhash64 names
 * the columns, so it needs them (colHashColumns, read where the checksum runs).
 */
export function checksumSql(table: TableName, algorithm: ChecksumAlgorithm = DEFAULT_ALGORITHM, columns?: readonly ColHashColumn[]): string {
  const t = qualified(table);
  // the bench's control build only (bench-control.ts): rows counted, nothing hashed
  if (HASHING_OFF) return `SELECT count(*)::bigint AS rows, '0' AS hi, '0' AS lo FROM ${t} AS r`;
  if (algorithm === 'colhash64' && !columns) throw new Error('colhash64 needs the table columns');
  if (algorithm === 'rowhash128') {
    const [a, b] = rowHashTerms(ROW);
    return ['SELECT count(*)::bigint AS rows,', `  coalesce(sum(${a}), 0)::text AS hi,`, `  coalesce(sum(${b}), 0)::text AS lo`, `FROM ${t} AS r`].join('\n');
  }
  if (algorithm === 'colhash64' || algorithm === 'rowhash64' || algorithm === 'hash128') {
    // OFFSET 0 keeps the subquery from being flattened into the sums: the row
    // (its hash, or its text) is built once per row and mixed twice.
    const [a, b] = algorithm === 'colhash64' ? colHashMixes('h') : algorithm === 'rowhash64' ? rowHashMixes('h') : ['hashtextextended(h, 0)', 'hashtextextended(h, 1)'];
    const h =
      algorithm === 'colhash64' ? colHashRow(columns!.map((c) => ({ value: `r.${quoteIdent(c.name)}`, typeOid: c.typeOid, notNull: c.notNull }))) : algorithm === 'rowhash64' ? rowHashValue(ROW) : `(${ROW})::text`;
    return ['SELECT count(*)::bigint AS rows,', `  coalesce(sum(${a}), 0)::text AS hi,`, `  coalesce(sum(${b}), 0)::text AS lo`, `FROM (SELECT ${h} AS h FROM ${t} AS r OFFSET 0) AS hashed`].join('\n');
  }
  return [
    'SELECT count(*)::bigint AS rows,',
    "  coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint::numeric), 0)::text AS hi,",
    "  coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint::numeric), 0)::text AS lo",
    `FROM (SELECT md5((${ROW})::text) AS h FROM ${t} AS r) AS hashed`,
  ].join('\n');
}

export function formatChecksum(rows: number, hi: string, lo: string, algorithm: ChecksumAlgorithm = 'md5sum'): string {
  return rows === 0 ? 'empty' : `${algorithm}:${hi}:${lo}`;
}

/** The algorithm a stored checksum was computed with (undefined for "empty": any will do). Pure. */
export function algorithmOf(checksum: string): ChecksumAlgorithm | undefined {
  if (checksum.startsWith('colhash64:')) return 'colhash64';
  if (checksum.startsWith('rowhash64:')) return 'rowhash64';
  if (checksum.startsWith('rowhash128:')) return 'rowhash128';
  if (checksum.startsWith('hash128:')) return 'hash128';
  if (checksum.startsWith('md5sum:')) return 'md5sum';
  return undefined;
}

export interface ChecksumOptions {
  /** Inside the caller's open transaction (a savepoint, rolled back afterwards, undoes the pinned settings). */
  inTransaction?: boolean;
  algorithm?: ChecksumAlgorithm;
}

/**
 * Row count and checksum of one table, in its own read-only transaction, or
 * with `inTransaction` inside the caller's.
 */
export async function tableChecksum(client: pg.Client, table: TableName, o: ChecksumOptions = {}): Promise<TableChecksum> {
  const algorithm = o.algorithm ?? DEFAULT_ALGORITHM;
  const begin = o.inTransaction ? 'SAVEPOINT undrop_checksum' : 'BEGIN READ ONLY';
  const end = o.inTransaction ? 'ROLLBACK TO SAVEPOINT undrop_checksum; RELEASE SAVEPOINT undrop_checksum' : 'COMMIT';
  await client.query(begin);
  let ok = false;
  try {
    await client.query(checksumSettingsSql());
    const columns = algorithm === 'colhash64' ? await colHashColumns(client, table) : undefined;
    const r = await client.query<{ rows: string; hi: string; lo: string }>(checksumSql(table, algorithm, columns));
    const row = r.rows[0]!;
    const rows = Number(row.rows);
    ok = true;
    return { rows, checksum: formatChecksum(rows, row.hi, row.lo, algorithm) };
  } finally {
    if (ok) await client.query(end);
    else await client.query(o.inTransaction ? 'ROLLBACK TO SAVEPOINT undrop_checksum; RELEASE SAVEPOINT undrop_checksum' : 'ROLLBACK').catch(() => {});
  }
}

/** Checksums of several tables on one connection, one after another. */
export async function tableChecksums(client: pg.Client, tables: TableName[], o: ChecksumOptions = {}): Promise<TableChecksum[]> {
  const out: TableChecksum[] = [];
  for (const t of tables) out.push(await tableChecksum(client, t, o));
  return out;
}

/** What decides whether two servers hash a row alike: their encoding and a canary hash (byte order shows in it). */
export interface HashFingerprint {
  encoding: string;
  canary: string;
  /** server_version_num (absent: not read, as in fingerprints recorded before). */
  version?: number;
  /** A record of every type rowhash64 accepts, hashed as a row is (null: PostgreSQL < 14). */
  rowCanary?: string | null;
  /** The same values hashed as colhash64 hashes a row (null: PostgreSQL < 14; absent: recorded before colhash64). */
  colCanary?: string | null;
}

// ASCII only (valid in every server encoding), longer than one 4-byte word and not a multiple of it, so byte order shows.
const CANARY = 'undrop checksum canary 0123456789 (row)';

export async function hashFingerprint(client: pg.Client): Promise<HashFingerprint> {
  const r = await client.query<{ encoding: string; canary: string; version: number }>(
    `SELECT current_setting('server_encoding') AS encoding, hashtextextended($1, 0)::text || '/' || hashtextextended($1, 1)::text AS canary, current_setting('server_version_num')::int AS version`,
    [CANARY],
  );
  const fp = r.rows[0]!;
  if (fp.version < ROWHASH_MIN_VERSION) return { ...fp, rowCanary: null, colCanary: null };
  // both by-value canaries in one round trip
  const c = await client.query<{ row: string; col: string }>(`SELECT (${rowCanarySql()}) AS row, (${colCanarySql()}) AS col`);
  return { ...fp, rowCanary: c.rows[0]!.row, colCanary: c.rows[0]!.col };
}

/**
 * hash128 when both servers have the same encoding and hash the canary
 * alike (same byte order), else md5sum. Pure.
 */
export function chooseAlgorithm(a: HashFingerprint, b: HashFingerprint): 'hash128' | 'md5sum' {
  return a.encoding === b.encoding && a.canary === b.canary ? 'hash128' : 'md5sum';
}

/**
 * One table's algorithm: colhash64 (rowhash64 where a fingerprint has no
 * column canary or the two differ) when both servers hash text alike, both
 * are PostgreSQL ≥ 14 and agree on the row canary, and the table's column
 * types allow it (verdict read where the rows are read); else the
 * cross-server choice above. Pure.
 */
export function tableAlgorithm(a: HashFingerprint, b: HashFingerprint, verdict: RowHashVerdict): ChecksumAlgorithm {
  const base = chooseAlgorithm(a, b);
  if (!(base === 'hash128' && rowHashAgrees(a, b) && verdict.eligible)) return base;
  return !!a.colCanary && a.colCanary === b.colCanary ? 'colhash64' : 'rowhash64';
}

/** Both servers can hash rows by value, and alike. Pure. */
export function rowHashAgrees(a: HashFingerprint, b: HashFingerprint): boolean {
  return !!a.rowCanary && a.rowCanary === b.rowCanary && (a.version ?? 0) >= ROWHASH_MIN_VERSION && (b.version ?? 0) >= ROWHASH_MIN_VERSION;
}

export interface TableAlgorithms {
  /** Per table, in the order asked. */
  algorithms: ChecksumAlgorithm[];
  /** Per table: why it is hashed neither by colhash64 nor by rowhash64 (null when it is). */
  reasons: (string | null)[];
}

/**
 * Each table's algorithm for comparing `source` (the server where the rows
 * are read, `tables` named there) with `production`: the column types are
 * read on the source, in one catalog query, only when rowhash64 is possible at all.
 */
export async function tableAlgorithms(source: pg.Client, fpSource: HashFingerprint, fpProduction: HashFingerprint, tables: readonly TableName[]): Promise<TableAlgorithms> {
  const base = chooseAlgorithm(fpSource, fpProduction);
  if (base !== 'hash128' || !rowHashAgrees(fpSource, fpProduction)) {
    const why = base !== 'hash128' ? 'the servers hash text differently (md5sum)' : 'a server is older than PostgreSQL 14 or hashes values differently';
    return { algorithms: tables.map(() => base), reasons: tables.map(() => why) };
  }
  const verdicts = await rowHashVerdicts(source, tables);
  return {
    algorithms: verdicts.map((v) => tableAlgorithm(fpSource, fpProduction, v)),
    reasons: verdicts.map((v) => (v.eligible ? null : v.reason)),
  };
}
