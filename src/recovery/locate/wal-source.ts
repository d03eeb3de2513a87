// Where locate reads WAL from: a folder of segments (a WAL archive, a data
// directory's pg_wal), or segments fetched one by one with the source's
// restore_command (or pgBackRest archive-get) into a private temp folder.
// The sources say where their WAL and base backups are (wal(),
// baseBackups()); this file only chooses one and fetches.
import { existsSync } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { failure, usageError } from '../../errors.js';
import type { Inventory, SourceConfig } from '../../inventory/schema.js';
import { chownForServer } from '../../postgres/os-user.js';
import { DEFAULT_SEGMENT_SIZE, isSegmentName, parseSegmentName, segmentForLsn, segmentName, walFileMajor } from '../../postgres/wal/segments.js';
import { fetchWhileReading } from '../../postgres/wal/fetch-reading.js';
import { transactionEndIn } from '../../postgres/wal/records.js';
import { Lsn } from '../../postgres/wal/lsn.js';
import { findBinaries } from '../../postgres/binaries.js';
import { makeStage, removeStage } from '../../postgres/work-dir.js';
import { expandRestoreCommand, fetchWalFile } from '../../sources/common/restore-command.js';
import { baseBackupsOf, walOf } from '../../sources/registry.js';
import type { BaseBackupRef, WalAccess } from '../../sources/types.js';
import { shellQuote } from '../../util/redact.js';

export interface WalLocation {
  /** What to call it in messages: "wal (WAL archive /backups/wal)". */
  label: string;
  kind: WalAccess['via'];
  /** The folder pg_waldump reads (for fetched WAL: the private temp folder). */
  dir: string;
  /** restore_command (with %f and %p) that gets one segment; for a PITR copy of a base backup as well. */
  restoreCommand?: string;
  /** The inventory source it came from. */
  source?: SourceConfig;
  /** The segments were fetched into `dir` for this read (and are removed by release), not read where they are kept. */
  fetched?: true;
  /** Where a scan with no --since begins when the source lists no base backups (its newest backup's start). */
  scanStart?: string;
  /** Why another source than the usual first was read (its archive folder ends earlier): a warning. */
  note?: string;
  /** The source's base backups, newest start first (listed once, when first asked). */
  baseBackups(): Promise<BaseBackupRef[]>;
  /** Remove fetched segments. */
  release(): Promise<void>;
}

export interface WalSourceRequest {
  inventory?: Inventory;
  /** --wal-dir: a folder of segments (archive or pg_wal). */
  walDir?: string;
  /** --source NAME: which inventory source to read WAL from. */
  source?: string;
  workDir: string;
  /** Where to begin fetching with a restore_command (a segment name); the archive's first segment by default. */
  fetchFrom?: string;
  /**
   * Fetch only what reading up to this transaction's end needs (recover checking a hand-given xid): from the
   * newest base backup's start (where the scan begins) to its COMMIT or ABORT, not the whole archive.
   */
  stopAfterXid?: string;
  onProgress?: (msg: string) => void;
}

const noop = async () => {};
/** Segments fetched at once by a restore_command, archive-get or get-wal. */
const FETCH_AT_ONCE = 4;
const none = async (): Promise<BaseBackupRef[]> => [];

function hasWal(s: SourceConfig): boolean {
  return s.kind === 'pitr' || s.kind === 'pgbackrest' || s.kind === 'barman' || (s.kind === 'delayed-replica' && !!s.data_dir);
}

function once<T>(f: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= f());
}

/** Pick and prepare the WAL to read. */
export async function openWalSource(req: WalSourceRequest): Promise<WalLocation> {
  if (req.walDir) {
    const dir = await walFolder(resolve(req.walDir));
    return { label: `folder ${dir}`, kind: 'dir', dir, restoreCommand: `cp ${shellQuote(dir)}/%f "%p"`, baseBackups: none, release: noop };
  }
  const sources = req.inventory?.sources ?? [];
  let chosen: SourceConfig | undefined;
  let folderNote: string | undefined;
  if (req.source) {
    chosen = sources.find((s) => s.name === req.source);
    if (!chosen) throw usageError('SOURCE_UNKNOWN', `No source named "${req.source}" in ${req.inventory?.file ?? 'the inventory'}.`, `Sources: ${sources.map((s) => s.name).join(', ') || '(none)'}.`);
    if (!hasWal(chosen)) throw usageError('SOURCE_HAS_NO_WAL', `Source "${chosen.name}" (${chosen.kind}) has no WAL to read.`, 'Choose a pitr or pgbackrest source, a delayed replica with data_dir, or pass --wal-dir.');
  } else {
    const rank = (s: SourceConfig) => (s.kind === 'pitr' && s.wal_archive ? 0 : s.kind === 'pitr' ? 1 : s.kind === 'pgbackrest' ? 2 : s.kind === 'barman' ? 3 : 4);
    const ranked = sources.filter(hasWal).sort((a, b) => rank(a) - rank(b));
    const behind = await folderBehind(ranked);
    chosen = behind?.instead ?? ranked[0];
    if (behind) folderNote = behind.note;
  }
  if (!chosen) {
    throw usageError(
      'NO_WAL_SOURCE',
      'locate needs WAL, and the inventory names no source that has it.',
      'Add a pitr source with wal_archive or restore_command (or a pgbackrest stanza) to undrop.yaml, or pass --wal-dir DIR (a WAL archive or a pg_wal folder).',
    );
  }
  const wal = await walOf(chosen);
  if (!wal) throw usageError('SOURCE_HAS_NO_WAL', `Source "${chosen.name}" (${chosen.kind}) has no WAL to read.`);
  const config = chosen;
  const baseBackups = once(() => baseBackupsOf(config));
  const note = folderNote ? { note: folderNote } : {};
  if (wal.dir) return { label: wal.label, kind: wal.via, dir: await walFolder(wal.dir), restoreCommand: wal.restoreCommand, source: chosen, baseBackups, release: noop, ...note };
  return { ...(await fetchWithCommand(req, chosen, wal, baseBackups)), ...note };
}

/**
 * The first choice is an archive folder, and another source's WAL (a pgBackRest stanza, a Barman server)
 * reaches past the folder's newest segment: the folder stopped receiving WAL (archive_command moved to
 * pgBackRest, say), and what it lacks may hold the incident. Read that source instead, and say why.
 * A replica's pg_wal is left out: it holds recycled segments named ahead of what it replayed.
 */
async function folderBehind(ranked: SourceConfig[]): Promise<{ instead: SourceConfig; note: string } | undefined> {
  const first = ranked[0];
  if (!first || first.kind !== 'pitr' || !first.wal_archive) return undefined;
  const others = ranked.filter((s) => s.kind === 'pgbackrest' || s.kind === 'barman');
  if (!others.length) return undefined;
  const folderLast = await newestInFolder(first.wal_archive);
  if (folderLast === undefined) return undefined;
  for (const s of others) {
    const last = await walOf(s)
      .then((w) => w?.range?.())
      .then((r) => (r?.last ? parseSegmentName(r.last) : undefined))
      .catch(() => undefined);
    if (!last || last.segno <= folderLast.segno) continue;
    return {
      instead: s,
      note: `${first.name}'s WAL archive (${first.wal_archive}) ends at ${segmentName(folderLast.timeline, folderLast.segno)}, ${last.segno - folderLast.segno} segment(s) before ${s.name}'s newest (${segmentName(last.timeline, last.segno)}): read ${s.name}'s WAL instead (an archive that stopped receiving WAL may lack the incident).`,
    };
  }
  return undefined;
}

/** The newest segment a folder holds, by name only (no stat: an archive holds thousands). */
async function newestInFolder(dir: string): Promise<{ timeline: number; segno: bigint } | undefined> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter(isSegmentName);
  const parsed = names.map((n) => parseSegmentName(n));
  return parsed.reduce<{ timeline: number; segno: bigint } | undefined>((a, b) => (!a || b.segno > a.segno ? b : a), undefined);
}

async function walFolder(dir: string): Promise<string> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a folder');
  } catch {
    throw usageError('WAL_DIR_MISSING', `${dir}: no such folder.`, 'Point at the WAL archive folder (or a data directory\'s pg_wal).');
  }
  // A data directory: read its pg_wal.
  if (existsSync(join(dir, 'PG_VERSION')) && existsSync(join(dir, 'pg_wal'))) return join(dir, 'pg_wal');
  return dir;
}

async function fetchWithCommand(req: WalSourceRequest, src: SourceConfig, wal: WalAccess, baseBackups: () => Promise<BaseBackupRef[]>): Promise<WalLocation> {
  const command = wal.restoreCommand;
  if (!command) throw usageError('SOURCE_HAS_NO_WAL', `Source "${src.name}" (${src.kind}) has no WAL to read.`);
  const dir = await makeStage(req.workDir, 'locate-wal');
  const release = async () => removeStage(dir);
  try {
    // The command runs as the server OS user, as the server would run it.
    await chownForServer(dir, false);
    const range = await wal.range?.();
    // a hand-given xid: from where the scan begins (the newest base backup's start), not the archive's first segment
    const listed = req.stopAfterXid && !req.fetchFrom ? await newestBackupStart(baseBackups) : undefined;
    const newest = listed ?? (req.stopAfterXid && !req.fetchFrom ? range?.newestBackup?.segment : undefined);
    const first = req.fetchFrom ?? newest ?? range?.first ?? (await newestBackupStart(baseBackups));
    const last = range?.last;
    if (!first) {
      throw usageError('WAL_RANGE_UNKNOWN', `Cannot tell where the WAL of ${wal.label} begins.`, 'Pass --since with an LSN (--since 0/9000028), or fetch the WAL into a folder and pass --wal-dir.');
    }
    const start = parseSegmentName(first);
    const how = wal.via === 'pgbackrest' ? 'pgbackrest archive-get' : wal.via === 'barman' ? 'barman get-wal' : 'restore_command';
    // A base backup that starts before the first segment fetched: its replay's tablespace check would read `dir` from there.
    const replayable = once(async () => (await baseBackups()).filter((b) => !Lsn.before(b.startLsn, lsnOfSegment(start.segno))));
    // the scan begins where the fetch does: at the newest backup's start (pgBackRest lists no base backups to locate)
    const scanStart = !listed && newest && range?.newestBackup ? { scanStart: range.newestBackup.startLsn } : {};
    const located = { label: wal.label, kind: wal.via, dir, restoreCommand: command, source: src, fetched: true as const, baseBackups: replayable, release, ...scanStart };
    if (req.stopAfterXid) {
      if (await fetchToXidEnd(req, command, dir, start, last, how)) return located;
    }
    let fetched = 0;
    // A few at once: each fetch is a program start (and a round trip to object storage), not a read.
    for (let segno = start.segno, end = false; !end; segno += BigInt(FETCH_AT_ONCE)) {
      const batch = Array.from({ length: FETCH_AT_ONCE }, (_, i) => segmentName(start.timeline, segno + BigInt(i))).filter((n) => !last || n <= last);
      if (batch.length === 0) break;
      req.onProgress?.(`fetching ${batch[0]}${batch.length > 1 ? ` (and ${batch.length - 1} more)` : ''} with ${how}`);
      const got = await Promise.all(batch.map((name) => fetchWalFile(command, name, dir, 300_000)));
      for (const [i, r] of got.entries()) {
        if (r.ok) fetched++;
        else if (!last) {
          // Without a known end, the first miss is the end: what was fetched past it is not read.
          for (const after of batch.slice(i + 1)) await rm(join(dir, after), { force: true });
          end = true;
          break;
        } // with a known end, a miss is a gap: keep going
      }
    }
    if (fetched === 0) {
      throw failure('WAL_FETCH_FAILED', `${wal.label}: could not fetch ${first}.`, { hint: `Run the command by hand to see why: ${expandRestoreCommand(command, first, `/tmp/${first}`)}` });
    }
    return located;
  } catch (e) {
    await release();
    throw e;
  }
}

/**
 * The segments from `start` to the one holding the transaction's COMMIT or ABORT (and the few fetched with
 * it), read as they arrive (fetch-reading.ts); false when the first segment cannot be fetched or read
 * (the usual fetch then runs, and says why).
 */
async function fetchToXidEnd(req: WalSourceRequest, command: string, dir: string, start: { timeline: number; segno: bigint }, last: string | undefined, how: string): Promise<boolean> {
  const firstName = segmentName(start.timeline, start.segno);
  if (!(await fetchWalFile(command, firstName, dir, 300_000)).ok) return false;
  const major = await walFileMajor(join(dir, firstName));
  const bin = major ? await findBinaries(major).catch(() => undefined) : undefined;
  if (!bin) return false;
  let count = 0;
  await fetchWhileReading(bin, {
    dir,
    startLsn: lsnOfSegment(start.segno),
    timeline: start.timeline,
    rmgrs: ['Transaction'],
    maxSegments: last ? Number(parseSegmentName(last).segno - start.segno + 1n) : undefined,
    parallel: FETCH_AT_ONCE,
    fetch: async (name, dest) => {
      if (existsSync(dest)) return true; // the first, fetched above
      if (count++ % FETCH_AT_ONCE === 0) req.onProgress?.(`fetching ${name} with ${how}, until transaction ${req.stopAfterXid} ends`);
      return (await fetchWalFile(command, name, dir, 300_000)).ok;
    },
    onLine: (line) => transactionEndIn(line)?.xid === req.stopAfterXid,
  });
  return true;
}

const lsnOfSegment = (segno: bigint) => Lsn.format(segno * BigInt(DEFAULT_SEGMENT_SIZE));

async function newestBackupStart(baseBackups: () => Promise<BaseBackupRef[]>): Promise<string | undefined> {
  const b = (await baseBackups())[0];
  return b ? segmentForLsn(b.timeline, b.startLsn) : undefined;
}
