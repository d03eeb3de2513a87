// A hand-given target is still checked against what the WAL says was lost
// (best effort): the scan that finds the event the identity check compares
// with. An xid target needs nothing after that transaction, and, when the
// chosen source is a paused delayed replica that has replayed none of that
// transaction, nothing before the replica's replay position either: the scan
// then reads only from there (sources/delayed-replica/scan-start.ts), not
// from the newest base backup's start or the last 24 hours of the archive. A
// snapshot vouches the same way for its last checkpoint's redo point when the
// transaction began after it (sources/snapshot/scan-start.ts); that start is
// taken only when it is later than the usual one.
import { isUndropError } from '../errors.js';
import type { Inventory, SourceConfig } from '../inventory/schema.js';
import type { ConnParams } from '../postgres/conninfo.js';
import type { TableName } from '../postgres/identifiers.js';
import type { TablespaceScan } from '../postgres/replay-guard.js';
import { Lsn } from '../postgres/wal/lsn.js';
import { walScanStartOf } from '../sources/registry.js';
import type { ResolvedTarget } from '../sources/target.js';
import { identityEventFor } from './identity.js';
import { locate, type LocatedEvent, type LocateOptions } from './locate/index.js';
import { namesTable } from './locate/rank.js';
import type { Timeline } from './timeline.js';

export interface TargetScanRequest {
  inventory: Inventory;
  tables: TableName[];
  production: ConnParams;
  workDir: string;
  target: ResolvedTarget;
  /** The source chosen by name (a paused replica may vouch for a later start). */
  source?: SourceConfig;
  timeline: Timeline;
  /** The chosen source's copy at the target, once up: it names the files (LocateOptions.catalogAt). */
  catalogAt?: LocateOptions['catalogAt'];
  /** The WAL is read: the replay guard's answers, before the naming that may wait for catalogAt. */
  onScanned?: (s: Omit<TargetScan, 'event'>) => void;
}

export interface TargetScan {
  event?: LocatedEvent;
  tablespaces?: TablespaceScan;
  /** The xid target's commit record, when the scan saw it (where the replay ends). */
  end?: string;
  /** WAL the scan fetched (tablespaces.dir), kept for the replay guard and the replay: the caller removes it (removeStage). */
  keptWal?: string;
}

/** The event a hand-given target undoes, from the WAL (best effort: an empty answer when the scan fails). */
export async function scanForTarget(req: TargetScanRequest): Promise<TargetScan> {
  const { target } = req;
  // an xid target: nothing after that transaction's commit matters to the identity check or to the replay
  const xid = target.kind === 'xid' ? target.xid : undefined;
  const database = req.production.database ?? '';
  const vouch = async (x: string) => (req.source ? await walScanStartOf(req.source, { database, xid: x }).catch(() => undefined) : undefined);
  const vouched = xid ? await vouch(xid) : undefined;
  // A replica's replay position replaces the usual start; a snapshot's redo point is taken only when it is later.
  const start = vouched?.ifLater ? undefined : vouched;
  const later = vouched?.ifLater ? vouched : undefined;
  if (xid && req.source?.kind === 'delayed-replica') {
    req.timeline.event('wal-scan-start', start ? { from: start.lsn, reason: start.reason } : { from: null, reason: `${req.source.name} cannot vouch that it replayed no record of transaction ${xid} (it holds part of it, or already committed it): the scan reads from its usual start` });
  }
  let startedLater = false;
  const once = async (fromLsn?: string, laterStart?: { lsn: string; systemId: string }) => {
    // From a vouched start the catalog that names the files is the paused replica itself: counting its rows there
    // (the rows copy back reads anyway) proves nothing the relfilenode does not, and would compete with the copy.
    // The xid's commit as the scan read it: locate keeps only events that touch the tables (and undrop's own), so a
    // target forced past the incident onto another table's DROP is not among them.
    let xidCommit: string | undefined;
    const onScanned = (s: { tablespaces: TablespaceScan; commitLsnOf: (x: string) => string | undefined; keptWal?: string }) => {
      xidCommit = xid ? s.commitLsnOf(xid) : undefined;
      if (!fromLsn) req.onScanned?.({ tablespaces: s.tablespaces, end: xidCommit, ...(s.keptWal ? { keptWal: s.keptWal } : {}) });
    };
    // rows are not counted in the copy: copy back reads them there meanwhile
    const r = await locate(req.inventory, { tables: req.tables, database: req.production.database, production: req.production, workDir: req.workDir, stopAfterXid: xid, fromLsn, laterStart, exactCounts: !fromLsn && !req.catalogAt, onScanned, keepFetchedWal: !fromLsn && !!req.onScanned, ...(fromLsn ? {} : { catalogAt: req.catalogAt }) }).catch((e: unknown) => {
      // best effort, but never silent: the identity check then says "not proven", and the timeline says why
      req.timeline.event('wal-scan-failed', { from: fromLsn ?? null, error: e instanceof Error ? e.message : String(e), ...(isUndropError(e) ? { code: e.code } : {}) });
      return undefined;
    });
    if (!r) return undefined;
    startedLater = !!r.startedLater;
    const all = [...r.events, ...r.undrop, ...r.ignored];
    const named = r.events.filter((e) => req.tables.some((t) => e.relations.some((x) => namesTable(x, [t]))));
    // An xid target stops just before that transaction's commit record: where the replay ends, when the scan saw it.
    return { event: identityEventFor(target, named, all, xidCommit), tablespaces: r.tablespaces, end: xidCommit };
  };
  let found = await once(start?.lsn, later?.systemId ? { lsn: later.lsn, systemId: later.systemId } : undefined);
  if (later) req.timeline.event('wal-scan-start', startedLater ? { from: later.lsn, reason: later.reason } : { from: null, reason: `not a later start than the newest base backup's, or not production's cluster (${later.reason}): the scan reads from its usual start` });
  // Another transaction than the target's is compared with (the target names none of the tables): it too must lie
  // wholly after the start, else read the WAL from the usual start.
  const from = start?.lsn ?? (startedLater ? later?.lsn : undefined);
  const afterFrom = async (x: string) => {
    const v = await vouch(x);
    return !!v && !!from && !Lsn.before(v.lsn, from);
  };
  if (from && (!found || (found.event && found.event.xid !== xid && !(await afterFrom(found.event.xid))))) {
    req.timeline.event('wal-scan-start', { from: null, reason: found ? `transaction ${found.event!.xid} may have records before ${from}: read again from the usual start` : `the scan from ${from} failed: read again from the usual start` });
    found = await once();
  }
  return found ?? {};
}
