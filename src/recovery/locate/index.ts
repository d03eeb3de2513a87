// undrop locate as a library: find destructive transactions in WAL, name the
// relations they destroyed from a catalog that predates them, and turn the
// newest one into an exact recovery target.
import { failure, usageError } from '../../errors.js';
import type { Inventory } from '../../inventory/schema.js';
import { withClient } from '../../postgres/connect.js';
import type { ConnParams } from '../../postgres/conninfo.js';
import { resolveConnParams } from '../../postgres/conninfo.js';
import { type TableName, parseTableList } from '../../postgres/identifiers.js';
import { defaultWorkDir } from '../../postgres/instance.js';
import { Lsn } from '../../postgres/wal/lsn.js';
import { segmentForLsn } from '../../postgres/wal/segments.js';
import type { ResolvedTarget } from '../../sources/target.js';
import { type Catalog, type RecoveredCopy, baseBackupCatalog, productionCatalog, recoveredCopyCatalog, replicaCatalogs } from './catalog.js';
import type { TablespaceScan } from '../../postgres/replay-guard.js';
import { scanWal } from './scan.js';
import { readOwnObjects } from './own-objects.js';
import { classifyEvent, isUndropEvent, rankEvents, unnamedReason } from './rank.js';
import type { LocatedEvent, LocateResult } from './types.js';
import { nameEvent } from './naming.js';
import { ignoredBy } from './ignore.js';
import { branchesLast, onTimelineHistory } from './branches.js';
import { readHistories } from '../../postgres/wal/history.js';
import { openWalSource, type WalLocation } from './wal-source.js';

export type { LocatedEvent, LocateResult } from './types.js';
export { locateJson } from './json.js';

export interface LocateOptions {
  /** ISO time or LSN; default: the newest base backup's start, or the last 24 h. */
  since?: string;
  until?: string;
  /** Keep only events that touched these tables. */
  tables?: TableName[] | string;
  /** Keep only events in this database (name or OID). */
  database?: string;
  /** Table patterns (glob, schema-qualified or not) whose events are set aside as routine, and listed as ignored. */
  ignore?: string[];
  /** Heap DELETE/UPDATE records of one transaction on one table that count as a mass delete (default 1000). */
  threshold?: number;
  /** Read this folder of segments instead of the inventory's WAL. */
  walDir?: string;
  /** Which inventory source to read WAL from. */
  source?: string;
  /** 'auto' (default): delayed replicas, a base backup copy, production; 'none': raw relfilenodes only. */
  catalog?: 'auto' | 'none' | 'production';
  /** --target-timeline: locateIncident refuses one that never saw the incident. */
  timeline?: string;
  /** Production connection (default: the inventory's). */
  production?: ConnParams;
  workDir?: string;
  onProgress?: (msg: string) => void;
  now?: Date;
  /** Read the WAL only up to this transaction's destructive event (recover checking a hand-given xid target). */
  stopAfterXid?: string;
  /**
   * recover with an xid target from a source it replays to that target (PITR, pgBackRest, Barman): its
   * temporary instance, once up (undefined if it never comes up), names the files instead of a base
   * backup copy of locate's own, which would replay the same WAL a second time beside it (at seed scale a
   * 11-16 s start and 3-5 s stop, on the same cores). The WAL is read without waiting for it.
   */
  catalogAt?: Promise<RecoveredCopy | undefined>;
  /**
   * Called once the WAL is read, before the events are named (which may wait for catalogAt). With
   * keepFetchedWal, segments fetched for the scan stay (tablespaces.dir names their folder) and are the
   * caller's to remove (removeStage): recover's replay guard and replay read them instead of fetching again.
   */
  onScanned?: (s: { tablespaces: TablespaceScan; commitLsnOf: (xid: string) => string | undefined; keptWal?: string }) => void;
  keepFetchedWal?: boolean;
  /**
   * Read the WAL from the segment holding this LSN and keep only events committed at or after it (recover:
   * a paused replica's replay position, when it vouches that the wanted transaction lies wholly after it).
   */
  fromLsn?: string;
  /**
   * Start here instead of at the newest base backup's start when it is later (recover: a snapshot vouched that the
   * wanted transaction lies wholly after its last checkpoint); never an earlier start than the usual one, and only
   * when it comes from production's own cluster (its system identifier).
   */
  laterStart?: { lsn: string; systemId: string };
  /** false: leave the lost tables' row counts as the catalog's estimate (no count(*) in a past catalog). */
  exactCounts?: boolean;
}

/** Find destructive transactions. */
export async function locate(inventory: Inventory | undefined, options: LocateOptions = {}): Promise<LocateResult> {
  const started = Date.now();
  const workDir = options.workDir ?? inventory?.workDir ?? defaultWorkDir();
  const threshold = options.threshold ?? 1000;
  if (!Number.isInteger(threshold) || threshold < 1) throw usageError('THRESHOLD_INVALID', `--threshold ${options.threshold} must be a positive whole number.`);
  const tables = typeof options.tables === 'string' ? parseTableList(options.tables) : (options.tables ?? []);
  const production = options.production ?? (inventory?.production ? safeConn(inventory.production.dsn) : undefined);
  const startLsn = options.since && Lsn.isLsn(options.since) ? options.since : options.since ? undefined : options.fromLsn;
  const stopAfter = options.stopAfterXid && /^\d+$/.test(options.stopAfterXid) ? options.stopAfterXid : undefined;
  const wal = await openWalSource({ inventory, walDir: options.walDir, source: options.source, workDir, onProgress: options.onProgress, fetchFrom: startLsn ? segmentForLsn(1, startLsn) : undefined, stopAfterXid: options.since ? undefined : stopAfter });
  const catalogs: Catalog[] = [];
  let handedOver = false;
  try {
    let defaultStartLsn: string | undefined;
    const since = options.since ?? options.fromLsn;
    if (!since) defaultStartLsn = (await wal.baseBackups())[0]?.startLsn ?? wal.scanStart;
    const prodFacts = production ? await productionControl(production) : undefined;
    const expectSystemId = prodFacts?.systemId;
    const later = options.laterStart;
    const startedLater = !since && !!later && !!expectSystemId && later.systemId === expectSystemId && (!defaultStartLsn || Lsn.before(defaultStartLsn, later.lsn));
    if (startedLater) defaultStartLsn = later.lsn;
    const stopAfterXid = stopAfter ? Number(stopAfter) : undefined;
    const scan = await scanWal({ dir: wal.dir, threshold, since, until: options.until, defaultStartLsn, expectSystemId, now: options.now, onProgress: options.onProgress, stopAfterXid });
    const warnings = [...(wal.note ? [{ code: 'WAL_FOLDER_BEHIND', message: wal.note, hint: `Remove the folder from the inventory if nothing archives into it any more, or pass --source to read another source's WAL.` }] : []), ...scan.warnings];
    if (!since && !defaultStartLsn) warnings.push({ code: 'SINCE_DEFAULT', message: 'No base backup to start from: scanned the last 24 hours of WAL.', hint: 'Pass --since TIME or --since LSN to scan another range.' });
    let raw = scan.events;
    if (options.until) raw = raw.filter((e) => Date.parse(e.commitTime) <= Date.parse(options.until!));
    if (options.since && !Lsn.isLsn(options.since)) raw = raw.filter((e) => Date.parse(e.commitTime) >= Date.parse(options.since!));
    // committed before the replay position: the replica holds their outcome, and naming them could cost a catalog copy
    else if (!options.since && options.fromLsn) raw = raw.filter((e) => !Lsn.before(e.commitLsn, options.fromLsn!));

    const keep = !!options.keepFetchedWal && !!wal.fetched && !!options.onScanned;
    options.onScanned?.({ tablespaces: scanned(scan.tablespaces, wal, keep), commitLsnOf: (x) => scan.events.find((e) => String(e.xid) === x)?.commitLsn, ...(keep ? { keptWal: wal.dir } : {}) });
    handedOver = keep;

    // Catalogs, best first.
    const mode = options.catalog ?? 'auto';
    // The caller's copy at the target, just before the xid's first record (a transaction that never shows up: no copy).
    const ownFirst = options.stopAfterXid ? scan.events.find((e) => String(e.xid) === options.stopAfterXid)?.firstLsn : undefined;
    const copy = mode === 'auto' && options.catalogAt && ownFirst ? await options.catalogAt : undefined;
    // It predates only what begins at or after that transaction: an earlier event (a target forced past the
    // incident) still gets a base backup copy below, so that the identity check can name, and fail, it.
    if (copy && ownFirst) catalogs.push(recoveredCopyCatalog(copy, ownFirst));
    if (mode === 'auto' && raw.length > 0) {
      catalogs.push(...(await replicaCatalogs(inventory)));
      const needsPast = raw.filter((e) => e.kind !== 'delete');
      // the replicas' catalogs first: listing base backups reads a tar's backup_label (a gzip pass)
      if (needsPast.length > 0 && !catalogs.some((c) => needsPast.every((e) => c.predates(e.firstLsn))) && (await wal.baseBackups()).length > 0) {
        const oldest = needsPast.reduce((a, b) => (Lsn.before(a.firstLsn, b.firstLsn) ? a : b));
        const bb = await baseBackupCatalog({ bin: scan.bin, backups: await wal.baseBackups(), restoreCommand: wal.restoreCommand, walDir: wal.dir, stopBefore: oldest.firstLsn, workDir, onProgress: options.onProgress }).catch(() => undefined);
        if (bb) catalogs.push(bb);
      }
    }
    const prod = mode !== 'none' ? productionCatalog(inventory, production) : undefined;
    if (prod) catalogs.push(prod);

    const own = readOwnObjects(workDir);
    const events: LocatedEvent[] = [];
    const dbNameCache = new Map<number, string | null>();
    // Oldest first, so a base backup copy only ever replays forward.
    const ordered = [...raw].sort((a, b) => Lsn.compare(a.commitLsn, b.commitLsn));
    for (const e of ordered) events.push(await nameEvent(e, catalogs, dbNameCache, own, scan.births, options));
    // Try harder before leaving files unnamed when no named event answers the question:
    // a base backup copy replayed to just before the oldest unnamed event (and on, event by event).
    const answered = events.some((e) => !isMaintenance(e) && !isUndropEvent(e, own.schemas) && classifyEvent(e, tables) === 'named');
    const unnamedAt = events.findIndex((e) => e.kind !== 'drop-database' && !e.partial && e.relations.some((r) => r.name === null));
    if (mode === 'auto' && !answered && unnamedAt >= 0 && (await wal.baseBackups()).length > 0 && !catalogs.some((c) => c.kind === 'base-backup')) {
      const bb = await baseBackupCatalog({ bin: scan.bin, backups: await wal.baseBackups(), restoreCommand: wal.restoreCommand, walDir: wal.dir, stopBefore: events[unnamedAt]!.firstLsn, workDir, onProgress: options.onProgress }).catch(() => undefined);
      if (bb) {
        catalogs.splice(catalogs.length - (prod ? 1 : 0), 0, bb);
        for (let i = unnamedAt; i < events.length; i++) {
          if (events[i]!.relations.some((r) => r.name === null)) events[i] = await nameEvent(ordered[i]!, catalogs, dbNameCache, own, scan.births, options);
        }
      }
    }
    let kept = events.filter((e) => !isMaintenance(e));
    if (options.database) {
      const d = options.database;
      kept = kept.filter((e) => e.database.name === d || String(e.database.oid) === d);
    }
    // undrop's own side schemas, dropped as the report advises: never incidents, listed apart.
    const undrop = kept.filter((e) => isUndropEvent(e, own.schemas)).sort((a, b) => Lsn.compare(b.commitLsn, a.commitLsn));
    kept = rankEvents(kept.filter((e) => !undrop.includes(e)), tables);
    const histories = await readHistories(wal.dir);
    if (scan.timelines.length > 1) kept = branchesLast(kept, prodFacts?.timeline, histories);
    for (const e of kept) {
      const why = unnamedReason(e);
      if (why) e.unnamedReason = why;
    }
    const ignored: LocatedEvent[] = [];
    if (options.ignore?.length) {
      const patterns = options.ignore;
      kept = kept.filter((e) => {
        const hit = ignoredBy(patterns, e);
        if (hit) {
          ignored.push({ ...e, ignoredBy: hit });
          return false;
        }
        return true;
      });
    }
    return {
      events: kept,
      ignored,
      undrop,
      wal: {
        source: wal.label,
        firstSegment: scan.firstSegment,
        lastSegment: scan.lastSegment,
        segments: scan.segments,
        timeline: scan.timeline,
        timelines: scan.timelines,
        systemIdentifier: scan.systemIdentifier,
        pgWaldumpMajor: scan.major,
        records: scan.stats.records,
        commits: scan.stats.commits,
        firstCommitTime: scan.stats.firstCommitTime,
        lastCommitTime: scan.stats.lastCommitTime,
        maxOpenTransactions: scan.stats.maxOpenXacts,
        gaps: scan.gaps,
      },
      catalogs: catalogs.map((c) => c.label),
      warnings,
      durationMs: Date.now() - started,
      tablespaces: scanned(scan.tablespaces, wal, handedOver),
      histories,
      ...(startedLater ? { startedLater } : {}),
    };
  } finally {
    for (const c of catalogs) await c.release().catch(() => {});
    if (!handedOver) await wal.release();
  }
}

/** The exact target before the newest destructive event (for recover --target before-incident and probe). */
export async function locateIncident(inventory: Inventory | undefined, options: LocateOptions = {}): Promise<ResolvedTarget & { event: LocatedEvent; tablespaces?: LocateResult['tablespaces'] }> {
  const r = await locate(inventory, options);
  const event = r.events[0];
  if (!event) {
    throw failure('NO_INCIDENT_FOUND', `No destructive transaction was found in the WAL of ${r.wal.source}${r.wal.firstSegment ? ` (${r.wal.firstSegment} … ${r.wal.lastSegment})` : ''}.`, {
      hint: 'Widen the range with --since, check --tables, or give the target yourself: --target time:2026-11-25T01:42:00Z, xid:N or lsn:X/Y.',
      details: r.warnings.map((w) => w.message),
    });
  }
  assertTimelineSawIt(event, options.timeline, r);
  return { ...eventTarget(event), event, tablespaces: r.tablespaces };
}

/**
 * --target-timeline that never saw the incident (a branch forked before it) is refused: xids repeat
 * across branches, so replay would stop before another transaction of the same number, or never.
 */
function assertTimelineSawIt(e: LocatedEvent, given: string | undefined, r: LocateResult): void {
  const tl = given?.toLowerCase();
  const want = tl === 'latest' ? Math.max(...r.wal.timelines) : tl && /^\d+$/.test(tl) ? Number(tl) : undefined;
  if (want === undefined || want === e.timeline || !r.histories || onTimelineHistory(e, want, r.histories) !== false) return;
  throw usageError(
    'TARGET_TIMELINE_MISMATCH',
    `The incident (transaction ${e.xid}, committed ${e.commitTime}) is on timeline ${e.timeline}, and timeline ${want}${tl === 'latest' ? ' (latest)' : ''} never saw it: it left timeline ${e.timeline} before that, or is another branch. Following it, replay would stop before another transaction numbered ${e.xid}, or never reach one.`,
    `Leave --target-timeline out (undrop follows the incident's timeline, ${e.timeline}), or pass --target-timeline ${e.timeline}.`,
  );
}

/** An event as an exact, exclusive recovery target. */
export function eventTarget(e: LocatedEvent): ResolvedTarget {
  const what = `${e.kind}${e.relations.length ? ` of ${e.relations.map((r) => r.name ?? `base/${e.database.oid}/${r.relfilenode}`).join(', ')}` : ''}`;
  if (e.kind === 'drop-database') {
    // The files go at the DROP dir record, before the commit: stop before the transaction's first record.
    return { kind: 'lsn', xid: e.xid, firstLsn: e.firstLsn, commitLsn: e.firstLsn, time: e.commitTime, ...timelineOf(e), database: dbLabel(e), inclusive: false, origin: `locate: DROP DATABASE ${e.database.name ?? e.database.oid} (xid ${e.xid}; stop before its first record)` };
  }
  // The incident's own timeline: with "latest", a restore would follow a later fork that never saw it.
  return { kind: 'xid', xid: e.xid, firstLsn: e.firstLsn, commitLsn: e.commitLsn, time: e.commitTime, ...timelineOf(e), database: dbLabel(e), inclusive: false, origin: `locate: ${what} (xid ${e.xid})` };
}

function timelineOf(e: LocatedEvent): { timeline?: string } {
  return e.timeline ? { timeline: String(e.timeline) } : {};
}

function dbLabel(e: LocatedEvent): string {
  return e.database.name ?? String(e.database.oid);
}

// ---------------------------------------------------------------------------

function safeConn(dsn: string | undefined): ConnParams | undefined {
  try {
    return resolveConnParams(dsn);
  } catch {
    return undefined;
  }
}

/** Production's system identifier (the WAL must be its) and current timeline (its history decides which events it lost). */
async function productionControl(p: ConnParams): Promise<{ systemId: string; timeline: number } | undefined> {
  try {
    return await withClient(
      { ...p, database: p.database ?? 'postgres' },
      async (c) => {
        const row = (await c.query('select (select system_identifier::text from pg_control_system()) as id, (select timeline_id from pg_control_checkpoint()) as tli')).rows[0];
        return { systemId: String(row.id), timeline: Number(row.tli) };
      },
      { connectTimeoutMs: 5000, statementTimeoutMs: 5000 },
    );
  } catch {
    return undefined;
  }
}

/** Catalog-only rewrites and index rebuilds: not incidents. */
function isMaintenance(e: LocatedEvent): boolean {
  if (e.kind === 'drop-database') return false;
  if (e.relations.length === 0) return true;
  if (e.kind === 'truncate' && e.relations.every((r) => r.relkind === 'i')) return true;
  return false;
}

/** What the scan saw of tablespaces, and where: the source, and the folder when its segments stay there. */
function scanned(t: Omit<TablespaceScan, 'source' | 'dir'>, wal: WalLocation, kept = false): TablespaceScan {
  return { ...t, source: wal.source?.name, ...(wal.fetched && !kept ? {} : { dir: wal.dir }) };
}
