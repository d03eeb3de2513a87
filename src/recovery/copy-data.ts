// Rows move as a stream: COPY … TO STDOUT (FORMAT binary) on the source,
// piped straight into COPY … FROM STDIN (FORMAT binary) on production. The
// DDL on both sides is the same pg_dump output, so binary format is safe and
// spares both servers the text conversion. FREEZE: the table was created in
// this very transaction, so its rows are written already frozen.
// Measured (1 M rows, 207 MB, 2 cores): pg-copy-streams 7 already hands on one
// buffer per socket read (~50 kB), not one per row, and node spends ~0.4-0.5 s
// of CPU per million rows on it. A psql child feeding COPY FROM (psql's own CPU
// ~0.45 s) and forwarding the source's CopyData frames unparsed both cost as
// much; the stream stays as it is.
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type pg from 'pg';
import * as copyStreams from 'pg-copy-streams';
import { quoteIdent } from '../postgres/identifiers.js';

export interface CopyTableSql {
  out: string;
  in: string;
}

/** The two COPY statements for one table. Pure. */
export function copyStatements(from: { schema: string; name: string }, to: { schema: string; name: string }, columns: string[], o: { freeze?: boolean } = {}): CopyTableSql {
  const cols = columns.length ? ` (${columns.map(quoteIdent).join(', ')})` : '';
  return {
    out: `COPY ${quoteIdent(from.schema)}.${quoteIdent(from.name)}${cols} TO STDOUT (FORMAT binary)`,
    in: `COPY ${quoteIdent(to.schema)}.${quoteIdent(to.name)}${cols} FROM STDIN (FORMAT binary${o.freeze ? ', FREEZE' : ''})`,
  };
}

export interface CopyStats {
  rows: number;
  bytes: number;
  durationMs: number;
}

/**
 * Stream one table from `source` into `target` (inside the caller's transaction on target). `sourceError`
 * may restate a failure of the source side's read (production's failures are thrown as they are).
 */
export async function copyTable(source: pg.Client, target: pg.Client, sql: CopyTableSql, onBytes?: (n: number) => void, sourceError?: (e: unknown) => Error | undefined): Promise<CopyStats> {
  const started = Date.now();
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      onBytes?.(chunk.length);
      cb(null, chunk);
    },
  });
  const out = source.query(copyStreams.to(sql.out));
  let fromSource: unknown;
  out.once('error', (e) => {
    fromSource = e;
  });
  const into = target.query(copyStreams.from(sql.in));
  await pipeline(out, counter, into).catch((e: unknown) => {
    throw (e === fromSource && sourceError?.(e)) || e;
  });
  return { rows: into.rowCount, bytes, durationMs: Date.now() - started };
}
