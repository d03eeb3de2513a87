// Replaying a CREATE TABLESPACE recreates the tablespace at the absolute path
// the WAL names, and PostgreSQL's redo first removes whatever version folder
// is already there (tablespace.c: "forcibly drop the target subdirectory if
// present"). On the database host, or with shared storage, that path is the
// live tablespace: a temporary instance replaying from a base backup older
// than the tablespace would empty production's. Before such a replay starts,
// the WAL range is read for Tablespace records, and a CREATE whose path
// exists here stops the run.
import { existsSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import { failure } from '../errors.js';
import type { PgBinaries } from './binaries.js';
import { Lsn } from './wal/lsn.js';
import { segmentName, segnoOfLsn } from './wal/segments.js';
import { fetchWhileReading } from './wal/fetch-reading.js';
import { transactionEndIn } from './wal/records.js';
import { runWaldump } from './wal/waldump.js';

export interface TablespaceCreate {
  oid: string;
  path: string;
}

/** `desc: CREATE 16390 "/srv/ts"` lines of pg_waldump -r Tablespace, with each record's LSN. */
export function tablespaceCreates(waldump: string): (TablespaceCreate & { lsn?: Lsn })[] {
  return waldump.split('\n').flatMap((line) => tablespaceCreateAt(line) ?? []);
}

/** One pg_waldump line: the tablespace a CREATE record makes, with the record's LSN when the line has one. Pure. */
function tablespaceCreateAt(line: string): (TablespaceCreate & { lsn?: Lsn }) | undefined {
  const t = tablespaceCreateIn(line);
  const lsn = t && /\blsn: ([0-9A-F]+\/[0-9A-F]+)/.exec(line)?.[1];
  return t && lsn ? { ...t, lsn: Lsn.canonical(lsn) } : t;
}

/** One pg_waldump line: the tablespace a CREATE record makes, else undefined. Pure. */
export function tablespaceCreateIn(line: string): TablespaceCreate | undefined {
  const m = /desc: CREATE (\d+) "(.*)"\s*$/.exec(line);
  return m ? { oid: m[1]!, path: m[2]! } : undefined;
}

/**
 * What a WAL scan done for another reason (locate's) saw of tablespaces: the
 * stretches it read record by record, and every CREATE in them. When one
 * stretch holds a whole replay range, the guard needs no pg_waldump of its own.
 */
export interface TablespaceScan {
  /** Inventory source whose WAL was read (the guard trusts only the same source's WAL, or segments identical to it). */
  source?: string;
  /** The folder the segments were read in, when they stay there (an archive; not a copy fetched for the scan). */
  dir?: string;
  timeline: number;
  /** Read without a gap: from the start of a segment to the last record read. */
  spans: { from: Lsn; to: Lsn }[];
  creates: (TablespaceCreate & { lsn: Lsn })[];
}

/** What a promise (an earlier scan, its end) holds when it has already settled; never waits (reading the WAL here may be as quick). */
export async function ifSettled<T>(p: Promise<T | undefined> | undefined): Promise<T | undefined> {
  if (!p) return undefined;
  return Promise.race([p.catch(() => undefined), new Promise<undefined>((r) => setImmediate(() => r(undefined)))]);
}

/**
 * The replay's end is not always known when the guard runs: for an xid given
 * by hand, locate's scan (alongside, reading from the oldest backup) finds
 * its commit, at seed scale 17-30 s after the restore is done. The guard
 * does not wait for it: it reads to the end of the archive, and only a
 * CREATE over an existing path makes it wait for the end, so that one made
 * after the target refuses nothing. Without an end (not found), it refuses.
 */
async function beforeLaterEnd<T extends { path: string; lsn?: Lsn }>(creates: T[], laterEnd: Promise<string | undefined> | undefined): Promise<T[]> {
  if (!laterEnd || !creates.some((c) => existsSync(c.path))) return creates;
  const end = await laterEnd.catch(() => undefined);
  return end ? creates.filter((c) => !c.lsn || !Lsn.before(end, c.lsn)) : creates;
}

/**
 * The CREATEs a replay from `startLsn` to `endLsn` would run, from an earlier
 * scan of the same source's WAL on the same timeline; undefined when that
 * scan did not read the whole range (then the guard reads it itself). Pure.
 */
export function createsFromScan(scan: TablespaceScan | undefined, o: { source: string | undefined; timeline?: number; startLsn: string; endLsn?: string }): TablespaceCreate[] | undefined {
  if (!scan || !o.endLsn || scan.source !== o.source || (o.timeline !== undefined && scan.timeline !== o.timeline)) return undefined;
  const start = o.startLsn;
  const end = o.endLsn;
  if (!scan.spans.some((s) => !Lsn.before(start, s.from) && !Lsn.before(s.to, end))) return undefined;
  // boundaries included: a record at either end refuses rather than slips through
  return scan.creates.filter((c) => !Lsn.before(c.lsn, start) && !Lsn.before(end, c.lsn));
}

/** The guard on CREATEs already read (a scan's, or createsFromScan's): refuse one whose path exists here. */
export function assertCreatesLeaveTablespacesAlone(creates: TablespaceCreate[], label: string): void {
  const hits = creates.filter((t) => existsSync(t.path));
  if (hits.length) {
    throw failure('REPLAY_WOULD_TOUCH_TABLESPACE', `Replaying WAL from ${label} re-creates tablespace ${hits.map((h) => `${h.oid} at ${h.path}`).join(', ')}, and that folder exists on this host; PostgreSQL's replay would empty it. Nothing was started.`, {
      hint: 'Use a base backup taken after the tablespace was created (or another source), or run undrop on a host where that path does not exist.',
    });
  }
}

/**
 * Refuse a replay (from `startLsn` to `endLsn`, WAL in `walDir`) that would create a tablespace over an
 * existing path. Without `endLsn`: to the end of the archive, then `laterEnd` (beforeLaterEnd).
 */
export async function assertReplayLeavesTablespacesAlone(bin: PgBinaries, o: { walDir: string; startLsn: string; endLsn?: string; laterEnd?: Promise<string | undefined>; timeline?: number; label: string }): Promise<void> {
  const r = await runWaldump(bin, { dir: o.walDir, start: o.startLsn, end: o.endLsn, timeline: o.timeline, rmgrs: ['Tablespace'], timeoutMs: 30 * 60_000 });
  const creates = tablespaceCreates(r.stdout);
  assertCreatesLeaveTablespacesAlone(o.endLsn ? creates : await beforeLaterEnd(creates, o.laterEnd), o.label);
}

interface FetchedReplay {
  fetch: (segment: string, dest: string) => Promise<boolean>;
  stageDir: string;
  startLsn: string;
  endLsn?: string;
  /** Without endLsn: the transaction the replay stops at (recovery_target_xid), whose end the WAL read here shows. */
  endXid?: string;
  timeline: number;
  label: string;
  maxSegments?: number;
  parallel?: number;
  /** Segments fetched between two reads while looking for endXid (default 16). */
  step?: number;
  /** A scan of another source's WAL folder: its answer holds when every segment fetched here is identical to that folder's. */
  elsewhere?: TablespaceScan;
}

interface FetchedReplayChecked {
  complete: boolean;
  segments: number;
  sharedWith?: string;
  /** The end of endXid (its COMMIT or ABORT record), when read here. */
  end?: Lsn;
}

/**
 * The same check when the WAL is only reachable one segment at a time
 * (pgBackRest archive-get, a restore_command): the segments from `startLsn`
 * to `endLsn` (without one: to the end of the archive) are fetched into
 * `stageDir` first. `complete` is false when the range is longer than
 * `maxSegments`: then only its first `maxSegments` were read. `segments`
 * counts those fetched; `sharedWith`: the source whose scan answered (the
 * segments identical to its folder's), else the WAL was decoded here.
 */
export async function assertFetchedReplayLeavesTablespacesAlone(bin: PgBinaries, o: FetchedReplay): Promise<FetchedReplayChecked> {
  // PostgreSQL 13 and 14 read one resource manager per pg_waldump: the xid's end is not looked for there
  if (!o.endLsn && o.endXid && bin.major >= 15) return readWhileFetching(bin, o);
  const max = BigInt(o.maxSegments ?? 256);
  const first = segnoOfLsn(o.startLsn);
  const wanted = o.endLsn ? segnoOfLsn(o.endLsn) : first + max; // one past the cap: "to the end" may be longer
  const last = wanted - first + 1n > max ? first + max - 1n : wanted;
  let complete = last === wanted;
  const names: string[] = [];
  for (let s = first; s <= last; s++) names.push(segmentName(o.timeline, s));
  // A few fetches at once: each is a program start, and the replay reuses what is fetched here.
  const atOnce = o.parallel ?? 4;
  let segments = 0;
  for (let i = 0; i < names.length; i += atOnce) {
    const batch = names.slice(i, i + atOnce);
    const got = await Promise.all(batch.map((name) => o.fetch(name, join(o.stageDir, name))));
    segments += got.filter(Boolean).length;
    if (got.includes(false)) {
      complete = true; // the end of the archive (or a timeline switch): replay reads no further on this timeline
      break;
    }
  }
  const seen = o.elsewhere?.dir && complete ? createsFromScan(o.elsewhere, { source: o.elsewhere.source, timeline: o.timeline, startLsn: o.startLsn, endLsn: o.endLsn }) : undefined;
  if (seen && (await sameSegments(names, o.stageDir, o.elsewhere!.dir!))) {
    assertCreatesLeaveTablespacesAlone(seen, o.label);
    return { complete, segments, sharedWith: o.elsewhere!.source ?? o.elsewhere!.dir! };
  }
  await assertReplayLeavesTablespacesAlone(bin, { walDir: o.stageDir, startLsn: o.startLsn, endLsn: o.endLsn, timeline: o.timeline, label: o.label });
  return { complete, segments };
}

/**
 * Whether each segment in `a` has the same bytes under its name in `b`. The
 * same bytes are the same records: what a scan decoded in `b` holds for the
 * copies in `a` (both archives of one cluster: a folder and a repository).
 * Comparing reads each file once, with no decoding; pg_waldump decodes every
 * record (seed bench, pgBackRest: the guard took 17.8 s fetching and
 * decoding, 6.8 s fetching and comparing). Any difference or unreadable
 * file: false.
 */
export async function sameSegments(names: readonly string[], a: string, b: string): Promise<boolean> {
  for (const name of names) if (!(await sameFile(join(a, name), join(b, name)))) return false;
  return true;
}

async function sameFile(x: string, y: string): Promise<boolean> {
  let fx: FileHandle | undefined;
  let fy: FileHandle | undefined;
  try {
    fx = await open(x, 'r');
    fy = await open(y, 'r');
    if ((await fx.stat()).size !== (await fy.stat()).size) return false;
    const bx = Buffer.allocUnsafe(1 << 20);
    const by = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const [rx, ry] = await Promise.all([fx.read(bx, 0, bx.length, null), fy.read(by, 0, by.length, null)]);
      if (rx.bytesRead !== ry.bytesRead) return false;
      if (rx.bytesRead === 0) return true;
      if (!bx.subarray(0, rx.bytesRead).equals(by.subarray(0, ry.bytesRead))) return false;
    }
  } catch {
    return false;
  } finally {
    await fx?.close().catch(() => {});
    await fy?.close().catch(() => {});
  }
}

/**
 * The check for an xid target whose end nobody has read yet (locate's scan
 * read another folder that stops earlier, or found no such transaction):
 * the segments are read as they arrive for Tablespace records and for that
 * transaction's COMMIT or ABORT, and fetching stops there instead of at the
 * end of the archive or the cap (seed-tenth bench: the guard fetched its
 * 256-segment cap, 36 s beside a 25 s restore, for an incident 125 segments
 * in). A CREATE TABLESPACE record holds one path: never longer than the
 * segment the reads overlap by (fetch-reading.ts).
 */
async function readWhileFetching(bin: PgBinaries, o: FetchedReplay): Promise<FetchedReplayChecked> {
  const creates = new Map<string, TablespaceCreate & { lsn: Lsn }>();
  let end: Lsn | undefined;
  const r = await fetchWhileReading(bin, {
    fetch: o.fetch,
    dir: o.stageDir,
    startLsn: o.startLsn,
    timeline: o.timeline,
    rmgrs: ['Tablespace', 'Transaction'],
    maxSegments: o.maxSegments ?? 256,
    parallel: o.parallel,
    step: o.step,
    onLine: (line) => {
      const t = tablespaceCreateAt(line);
      // keyed by LSN: the reads overlap by a segment
      if (t?.lsn) creates.set(t.lsn, { ...t, lsn: t.lsn });
      const x = transactionEndIn(line);
      if (x && x.xid === o.endXid) end ??= x.lsn;
      return !!end;
    },
  });
  assertCreatesLeaveTablespacesAlone([...creates.values()].filter((c) => !Lsn.before(c.lsn, o.startLsn) && (!end || !Lsn.before(end, c.lsn))), o.label);
  return { complete: !!end || r.exhausted, segments: r.segments, ...(end ? { end } : {}) };
}
