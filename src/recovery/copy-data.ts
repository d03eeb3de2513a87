// Rows move as a stream: COPY … TO STDOUT (FORMAT binary) on the source,
// piped straight into COPY … FROM STDIN (FORMAT binary) on production. The
// DDL on both sides is the same pg_dump output, so binary format is safe and
// spares both servers the text conversion. FREEZE: the table was created in
// this very transaction, so its rows are written already frozen.
// Measured (1 M rows, 207 MB, 2 cores): pg-copy-streams 7 already hands on one
// buffer per socket read (~50 kB), not one per row, and node spends ~0.4-0.5 s
// of CPU per million rows on it. A psql child feeding COPY FROM (psql's own CPU
// ~0.45 s) and forwarding the source's CopyData frames unparsed both cost as
// much. What did cut it (#16; 525 k rows, 36 MB, chunks of 35-60 kB): splitting
// the rows out in place (copy-out-split.ts; the library's per-row slices were
// most of the garbage: 63 scavenges per copy, now 9; node CPU -18%), and one
// writev per CopyData frame on the way in (socket write calls 4,403 -> 1,032).
// Larger V8 semi-spaces (--min-semi-space-size 16/64) cut scavenges too but
// cost more CPU than they saved (fresh pages): not used.
import type { Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { type Readable, Transform } from 'node:stream';
import type pg from 'pg';
import * as copyStreams from 'pg-copy-streams';
import { quoteIdent } from '../postgres/identifiers.js';
import { CopyOutSplitter } from './copy-out-split.js';

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

/** What copy-from does per chunk in pg-copy-streams 7 (not in its typings). */
interface CopyFromInternals {
  connection: { stream: Socket } | null;
  flushChunk(chunk: Buffer): boolean;
}

/**
 * COPY FROM whose CopyData frame goes out in one socket write: pg-copy-streams
 * writes the 5-byte header and the chunk separately (two syscalls per chunk);
 * corking the socket around the pair makes node send both with one writev,
 * without copying the chunk.
 */
export function copyFromStream(sql: string): copyStreams.CopyStreamQuery {
  const into = copyStreams.from(sql) as copyStreams.CopyStreamQuery & CopyFromInternals;
  const flushChunk = into.flushChunk;
  into.flushChunk = function (this: CopyFromInternals, chunk: Buffer): boolean {
    const socket = this.connection?.stream;
    socket?.cork();
    try {
      return flushChunk.call(this, chunk);
    } finally {
      socket?.uncork();
    }
  };
  return into;
}

/** What copy-to's parsing works with in pg-copy-streams 7 (not in its typings). */
interface CopyToInternals extends Readable {
  _buffer: { push(chunk: Buffer): void };
  _detach(): void;
  _cleanup(): void;
  _parse(chunk: Buffer): boolean | undefined;
}

// pg-copy-streams exports factories only; its class is reached through an instance.
const CopyToQuery = Object.getPrototypeOf(copyStreams.to('')).constructor as new (text: string) => CopyToInternals;
const internalsKnown = ['_detach', '_cleanup', '_parse'].every((m) => typeof (CopyToQuery.prototype as unknown as Record<string, unknown>)[m] === 'function');

/** COPY TO whose rows are split out by CopyOutSplitter (no Buffer per row); the library's own parsing should its internals differ. */
class CopyToRows extends CopyToQuery {
  private readonly splitter = new CopyOutSplitter();

  override _parse(chunk: Buffer): boolean | undefined {
    const r = this.splitter.feed(chunk);
    if (r.end === 'error') {
      // as the library does: pg gets the rest from the ErrorResponse on, the stream errors
      this._buffer.push(r.rest!);
      this._detach();
      return undefined;
    }
    const drained = r.data ? this.push(r.data) : true;
    if (r.end === 'end') {
      if (r.rest!.length > 0) this._buffer.push(r.rest!);
      this._detach();
      this.push(null);
      this._cleanup();
    }
    return drained;
  }
}

export function copyToStream(sql: string): copyStreams.CopyToStreamQuery {
  return (internalsKnown ? new CopyToRows(sql) : copyStreams.to(sql)) as unknown as copyStreams.CopyToStreamQuery;
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
  const out = source.query(copyToStream(sql.out));
  let fromSource: unknown;
  out.once('error', (e) => {
    fromSource = e;
  });
  const into = target.query(copyFromStream(sql.in));
  await pipeline(out, counter, into).catch((e: unknown) => {
    throw (e === fromSource && sourceError?.(e)) || e;
  });
  return { rows: into.rowCount, bytes, durationMs: Date.now() - started };
}
