// Verify: row count and order-independent checksum of every recovered table,
// computed in PostgreSQL on both sides (the materialized source and
// production), compared. Any difference fails loudly. Sums copy back already
// took (during the copy) are used as they are; the rest are computed here,
// tables in parallel, each with the algorithm both servers agree on for it
// (colhash64 where its column types allow, checksum.ts).
import { failure } from '../errors.js';
import { withClient } from '../postgres/connect.js';
import type { ConnParams } from '../postgres/conninfo.js';
import { displayName } from '../postgres/identifiers.js';
import { type ChecksumAlgorithm, hashFingerprint, type TableChecksum, tableAlgorithms, tableChecksum } from './checksum.js';
import type { CopyBackResult, CopyBackSource } from './copy-back.js';
import { silentTimeline, type Timeline } from './timeline.js';

export interface VerifyPair {
  /** schema.table as the user knows it. */
  name: string;
  source: { schema: string; name: string };
  production: { schema: string; name: string };
}

export interface VerifiedTable {
  name: string;
  production: string;
  source: TableChecksum;
  copy: TableChecksum;
  match: boolean;
}

export interface VerifyResult {
  ok: boolean;
  tables: VerifiedTable[];
  durationMs: number;
}

/**
 * Which tables to compare after copy back: the side schema in the source vs
 * the side schema in production, or (after replace) the original names in production.
 */
export function verifyPairs(copy: Pick<CopyBackResult, 'tables' | 'sourceSchema'>, productionSide: 'side-schema' | 'original' = 'side-schema'): VerifyPair[] {
  return copy.tables.map((t) => ({
    name: t.name,
    // read in place (sourceSchema null): the source's tables are under their own names
    source: copy.sourceSchema === null ? t.original : { schema: copy.sourceSchema, name: t.original.name },
    production: productionSide === 'original' ? t.original : t.recoveredAs,
  }));
}

export interface VerifyRequest {
  source: CopyBackSource;
  production: ConnParams;
  pairs: VerifyPair[];
  timeline?: Timeline;
  /** Return the result instead of throwing VERIFY_MISMATCH (default: throw). */
  noThrow?: boolean;
  /** Sums already taken (copy back's), per pair in order, with each pair's algorithm; a missing side is computed. */
  known?: { algorithms: ChecksumAlgorithm[]; source?: TableChecksum[]; copy?: TableChecksum[] };
}

async function sideSums(conn: ConnParams, tables: { schema: string; name: string }[], algorithms: ChecksumAlgorithm[], applicationName: string): Promise<TableChecksum[]> {
  return Promise.all(tables.map((t, i) => withClient(conn, (c) => tableChecksum(c, t, { algorithm: algorithms[i] }), { applicationName, statementTimeoutMs: 0 })));
}

export async function verifyCopy(req: VerifyRequest): Promise<VerifyResult> {
  const tl = req.timeline ?? silentTimeline;
  const started = Date.now();
  const sourceConn = { ...req.source.conn, database: req.source.database };
  const algorithms =
    req.known?.algorithms ??
    (await withClient(sourceConn, async (c) => (await tableAlgorithms(c, await hashFingerprint(c), await withClient(req.production, hashFingerprint), req.pairs.map((p) => p.source))).algorithms));
  const sides = await Promise.all([
    req.known?.source ?? sideSums(sourceConn, req.pairs.map((p) => p.source), algorithms, 'undrop verify (source)'),
    req.known?.copy ?? sideSums(req.production, req.pairs.map((p) => p.production), algorithms, 'undrop verify'),
  ]);
  const tables = req.pairs.map((p, i) => {
    const source = sides[0][i]!;
    const copy = sides[1][i]!;
    const v: VerifiedTable = { name: p.name, production: displayName(p.production), source, copy, match: source.rows === copy.rows && source.checksum === copy.checksum };
    tl.event('table-verified', { table: v.name, production: v.production, rows: copy.rows, checksum: copy.checksum, sourceRows: source.rows, sourceChecksum: source.checksum, match: v.match });
    return v;
  });
  const result: VerifyResult = { ok: tables.every((t) => t.match), tables, durationMs: Date.now() - started };
  if (!result.ok && !req.noThrow) {
    const bad = tables.filter((t) => !t.match);
    throw failure('VERIFY_MISMATCH', `The copy in production does not match the source for ${bad.map((t) => t.production).join(', ')}.`, {
      hint: 'Do not promote or drop anything yet. Compare the tables by hand (the side schema is still there), and check that nothing wrote to the side schema during the copy.',
      details: bad.map((t) => `${t.production}: ${t.copy.rows} rows, ${t.copy.checksum}  vs source ${t.source.rows} rows, ${t.source.checksum}`),
    });
  }
  return result;
}
