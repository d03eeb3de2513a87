// WAL reachable one segment at a time (pgBackRest archive-get, a
// restore_command: a program per segment) fetched in order into a folder and
// read as it arrives, a stretch at a time, until the reader has what it
// wants (an xid target's COMMIT or ABORT): the replay guard and locate's
// scan of a hand-given xid stop fetching there instead of at the end of the
// archive (seed-tenth bench: the incident 125 segments after the backup's
// start, the archive's end at 350).
//
// A read stops where the fetched segments stop, and pg_waldump silently
// leaves out a record that runs past that point (it reads no byte past -e):
// the next read begins again at the last segment read, so that record is
// read whole there. Only a record longer than a segment can begin before
// that overlap. Reading overlaps the next fetches.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PgBinaries } from '../binaries.js';
import { Lsn } from './lsn.js';
import { DEFAULT_SEGMENT_SIZE, segmentName, segnoOfLsn } from './segments.js';
import { runWaldump } from './waldump.js';

export interface FetchReading {
  /** Fetch one segment to `dest`; false: it is not there (the end of the archive, or of this timeline). */
  fetch: (segment: string, dest: string) => Promise<boolean>;
  dir: string;
  /** Where reading begins (a record's start, or a segment's). */
  startLsn: Lsn;
  timeline: number;
  /** pg_waldump -r: the records the reader wants (PostgreSQL 13 and 14 take one). */
  rmgrs: string[];
  /** Every line read; true: enough, fetch no further. */
  onLine: (line: string) => boolean | void;
  /** At most this many segments (default: no limit). */
  maxSegments?: number;
  /** Fetches at once (default 4: each is a program start, or a round trip to object storage). */
  parallel?: number;
  /** Segments fetched between two reads (default 16). */
  step?: number;
}

export interface FetchedRead {
  /** Segments fetched, from the start's on, without a gap. */
  segments: number;
  /** A fetch failed: the archive (or this timeline) ends there. */
  exhausted: boolean;
}

const SEGMENT = BigInt(DEFAULT_SEGMENT_SIZE);

export async function fetchWhileReading(bin: PgBinaries, o: FetchReading): Promise<FetchedRead> {
  const step = BigInt(o.step ?? 16);
  const atOnce = o.parallel ?? 4;
  const first = segnoOfLsn(o.startLsn);
  const limit = o.maxSegments === undefined ? undefined : first + BigInt(o.maxSegments);
  let stopped = false;
  const read = async (from: Lsn, toSegno: bigint) => {
    const r = await runWaldump(bin, { dir: o.dir, start: from, end: Lsn.format((toSegno + 1n) * SEGMENT), timeline: o.timeline, rmgrs: o.rmgrs, timeoutMs: 30 * 60_000 });
    for (const line of r.stdout.split('\n')) if (o.onLine(line) === true) stopped = true;
  };
  let fetched = first - 1n; // the last segment fetched, in order
  let readFrom: Lsn = o.startLsn; // where the next read begins
  let readTo = first - 1n; // the last segment a read has covered
  let reading: Promise<void> = Promise.resolve();
  let exhausted = false;
  const readNext = () => {
    const from = readFrom;
    const to = fetched;
    readTo = to;
    readFrom = Lsn.format(to * SEGMENT); // the overlap: that segment again
    reading = reading.then(() => (stopped ? undefined : read(from, to)));
  };
  while (!stopped && !exhausted && (limit === undefined || fetched + 1n < limit)) {
    const batch: bigint[] = [];
    for (let s = fetched + 1n; s <= fetched + BigInt(atOnce) && (limit === undefined || s < limit); s++) batch.push(s);
    const got = await Promise.all(batch.map((s) => o.fetch(segmentName(o.timeline, s), join(o.dir, segmentName(o.timeline, s)))));
    const missing = got.indexOf(false);
    fetched += BigInt(missing < 0 ? got.length : missing);
    if (missing >= 0) {
      exhausted = true;
      // fetched past the end (a gap): never read, and a folder scanned later must not hold them either
      for (const [i, s] of batch.entries()) if (i > missing && got[i]) await rm(join(o.dir, segmentName(o.timeline, s)), { force: true });
    }
    if (fetched - readTo >= step) {
      await reading; // one read at a time: the next begins at the segment this one ended in
      readNext();
    }
  }
  await reading;
  if (!stopped && fetched > readTo) {
    readNext();
    await reading;
  }
  return { segments: Number(fetched - first + 1n), exhausted };
}
