// The tables a plain SQL dump creates, found by scanning its bytes for
// "\nCREATE TABLE " rather than splitting it into lines: the COPY data that
// makes up nearly all of a dump is skipped at memory speed (a line reader
// built a string per row, about a second per 100 MB).
import { createReadStream } from 'node:fs';
import type { KnownTable } from '../common/tables.js';

const NEEDLE = Buffer.from('\nCREATE TABLE ');

/** `schema.name` (either part quoted or not) at the start of a CREATE TABLE statement's rest. Pure. */
export function tableOfCreate(rest: string): KnownTable {
  const q = rest.replace(/^IF NOT EXISTS /, '');
  const m = /^("(?:[^"]|"")+"|[^.\s(]+)\.("(?:[^"]|"")+"|[^\s(]+)/.exec(q);
  const un = (s: string) => (s.startsWith('"') ? s.slice(1, -1).replace(/""/g, '"') : s);
  return m ? { schema: un(m[1]!), name: un(m[2]!), rows: null } : { schema: 'public', name: un(q.split(/[\s(]/)[0]!), rows: null };
}

/** Tables of a plain dump (streamed, any size). */
export async function plainTables(path: string, chunkBytes = 1 << 20): Promise<KnownTable[]> {
  const tables = new Map<string, KnownTable>();
  // A leading newline lets a statement on the file's first line match too.
  let carry: Buffer = Buffer.from('\n');
  for await (const chunk of createReadStream(path, { highWaterMark: chunkBytes })) {
    const buf = carry.length ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
    let at = 0;
    let keepFrom = Math.max(0, buf.length - (NEEDLE.length - 1));
    for (let i = buf.indexOf(NEEDLE, at); i !== -1; i = buf.indexOf(NEEDLE, at)) {
      const start = i + NEEDLE.length;
      const end = buf.indexOf(0x0a, start);
      if (end === -1) {
        keepFrom = i; // the statement's line goes on in the next chunk
        break;
      }
      const t = tableOfCreate(buf.toString('utf8', start, end));
      tables.set(`${t.schema}.${t.name}`, t);
      at = end;
    }
    // Keep what a match may still start in (at most a needle's length, or the unfinished line; lines are short).
    carry = buf.subarray(Math.max(keepFrom, Math.min(at, buf.length)));
    if (carry.length > 1 << 20) carry = carry.subarray(carry.length - NEEDLE.length); // a pathological line: give it up
  }
  return [...tables.values()];
}
