// undrop locate as a library: find destructive transactions in WAL, name the
// relations they destroyed from a catalog that predates them, and turn the
// newest one into an exact recovery target.
import type { LocateDocument, LocateEventDocument } from '../../contract.js';
import { failure, usageError } from '../../errors.js';
import type { Inventory } from '../../inventory/schema.js';
import { withClient } from '../../postgres/connect.js';
import type { ConnParams } from '../../postgres/conninfo.js';
import { resolveConnParams } from '../../postgres/conninfo.js';
import { type TableName, displayName, parseTableList } from '../../postgres/identifiers.js';
import { defaultWorkDir } from '../../postgres/instance.js';
import { Lsn } from '../../postgres/wal/lsn.js';
import { segmentForLsn } from '../../postgres/wal/segments.js';
import type { ResolvedTarget } from '../../sources/target.js';
import { type Catalog, type CatalogRow, baseBackupCatalog, countRows, databaseNames, lookupRelations, productionCatalog, replicaCatalogs } from './catalog.js';
import { FIRST_NORMAL_OBJECT_ID } from '../../postgres/object-ids.js';
import { type ScanWarning, scanWal } from './scan.js';
import { nameByLineage } from './lineage.js';
import { type OwnObjects, readOwnObjects } from './own-objects.js';
import { classifyEvent, isUndropEvent, rankEvents, unnamedReason } from './rank.js';
import type { EventKind, EventRelation, FileBirth, RawEvent } from './types.js';
import { openWalSource } from './wal-source.js';

export type { EventKind, EventRelation } from './types.js';

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
  /** Production connection (default: the inventory's). */
  production?: ConnParams;
  workDir?: string;
  onProgress?: (msg: string) => void;
  now?: Date;
}

export interface LocatedEvent {
  kind: EventKind;
  operation?: 'delete' | 'update';
  xid: string;
  /** Contract: the commit LSN. */
  lsn: string;
  firstLsn: string;
  commitLsn: string;
  commitTime: string;
  database: { oid: number; name: string | null };
  relations: EventRelation[];
  /** DROP + CREATE in the same transaction: the new tables. */
  recreated: EventRelation[];
  /** Sum of rows lost where known. */
  rowsLost: number | null;
  rowsKind?: 'exact' | 'estimate' | 'wal-records';
  /** Which catalog gave the names (null: none; names are raw base/D/F). */
  catalog: string | null;
  target: { xid: string; inclusive: false; lsn?: string; note?: string };
  /** The transaction started before the scanned WAL or across a gap: firstLsn is an upper bound. */
  partial?: boolean;
  /** Matched --ignore. */
  ignoredBy?: string;
  /** Some files have no name: why (the event is then only a candidate with an explicit target or confirmation). */
  unnamedReason?: string;
  notes: string[];
}

export interface LocateResult {
  /** Candidates, best first: events naming a requested table (or any named event), newest first; then unnamed ones. */
  events: LocatedEvent[];
  ignored: LocatedEvent[];
  /** Drops of undrop's own side schemas: housekeeping, never incidents. */
  undrop: LocatedEvent[];
  wal: {
    source: string;
    firstSegment?: string;
    lastSegment?: string;
    segments: number;
    timeline: number;
    systemIdentifier?: string;
    pgWaldumpMajor: number;
    records: number;
    commits: number;
    firstCommitTime?: string;
    lastCommitTime?: string;
    maxOpenTransactions: number;
    gaps: { after: string; missing: string[] }[];
  };
  catalogs: string[];
  warnings: ScanWarning[];
  durationMs: number;
}

/** Find destructive transactions. */
export async function locate(inventory: Inventory | undefined, options: LocateOptions = {}): Promise<LocateResult> {
  const started = Date.now();
  const workDir = options.workDir ?? inventory?.workDir ?? defaultWorkDir();
  const threshold = options.threshold ?? 1000;
  if (!Number.isInteger(threshold) || threshold < 1) throw usageError('THRESHOLD_INVALID', `--threshold ${options.threshold} must be a positive whole number.`);
  const tables = typeof options.tables === 'string' ? parseTableList(options.tables) : (options.tables ?? []);
  const production = options.production ?? (inventory?.production ? safeConn(inventory.production.dsn) : undefined);
  const wal = await openWalSource({ inventory, walDir: options.walDir, source: options.source, workDir, onProgress: options.onProgress, fetchFrom: options.since && isLsnText(options.since) ? segmentForLsn(1, options.since) : undefined });
  const catalogs: Catalog[] = [];
  try {
    let defaultStartLsn: string | undefined;
    if (!options.since) defaultStartLsn = (await wal.baseBackups())[0]?.startLsn;
    const expectSystemId = production ? await systemIdentifier(production) : undefined;
    const scan = await scanWal({ dir: wal.dir, threshold, since: options.since, until: options.until, defaultStartLsn, expectSystemId, now: options.now, onProgress: options.onProgress });
    const warnings = [...scan.warnings];
    if (!options.since && !defaultStartLsn) warnings.push({ code: 'SINCE_DEFAULT', message: 'No base backup to start from: scanned the last 24 hours of WAL.', hint: 'Pass --since TIME or --since LSN to scan another range.' });
    let raw = scan.events;
    if (options.until) raw = raw.filter((e) => Date.parse(e.commitTime) <= Date.parse(options.until!));
    if (options.since && !isLsnText(options.since)) raw = raw.filter((e) => Date.parse(e.commitTime) >= Date.parse(options.since!));

    // Catalogs, best first.
    const mode = options.catalog ?? 'auto';
    if (mode === 'auto' && raw.length > 0) {
      catalogs.push(...(await replicaCatalogs(inventory)));
      const needsPast = raw.filter((e) => e.kind !== 'delete');
      if (needsPast.length > 0 && (await wal.baseBackups()).length > 0 && !catalogs.some((c) => needsPast.every((e) => c.predates(e.firstLsn)))) {
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
    for (const e of ordered) events.push(await nameEvent(e, catalogs, dbNameCache, own, scan.births));
    // Try harder before leaving files unnamed when no named event answers the question:
    // a base backup copy replayed to just before the oldest unnamed event (and on, event by event).
    const answered = events.some((e) => !isMaintenance(e) && !isUndropEvent(e, own.schemas) && classifyEvent(e, tables) === 'named');
    const unnamedAt = events.findIndex((e) => e.kind !== 'drop-database' && !e.partial && e.relations.some((r) => r.name === null));
    if (mode === 'auto' && !answered && unnamedAt >= 0 && (await wal.baseBackups()).length > 0 && !catalogs.some((c) => c.kind === 'base-backup')) {
      const bb = await baseBackupCatalog({ bin: scan.bin, backups: await wal.baseBackups(), restoreCommand: wal.restoreCommand, walDir: wal.dir, stopBefore: events[unnamedAt]!.firstLsn, workDir, onProgress: options.onProgress }).catch(() => undefined);
      if (bb) {
        catalogs.splice(catalogs.length - (prod ? 1 : 0), 0, bb);
        for (let i = unnamedAt; i < events.length; i++) {
          if (events[i]!.relations.some((r) => r.name === null)) events[i] = await nameEvent(ordered[i]!, catalogs, dbNameCache, own, scan.births);
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
    for (const e of kept) {
      const why = unnamedReason(e);
      if (why) e.unnamedReason = why;
    }
    const ignored: LocatedEvent[] = [];
    if (options.ignore?.length) {
      const pats = options.ignore.map(globToRegExp);
      kept = kept.filter((e) => {
        const names = e.relations.map((r) => r.name);
        const hit = options.ignore!.find((_, i) => names.length > 0 && names.every((n) => n !== null && matchesPattern(pats[i]!, n)));
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
    };
  } finally {
    for (const c of catalogs) await c.release().catch(() => {});
    await wal.release();
  }
}

/** The exact target before the newest destructive event (for recover --target before-incident and probe). */
export async function locateIncident(inventory: Inventory | undefined, options: LocateOptions = {}): Promise<ResolvedTarget & { event: LocatedEvent }> {
  const r = await locate(inventory, options);
  const event = r.events[0];
  if (!event) {
    throw failure('NO_INCIDENT_FOUND', `No destructive transaction was found in the WAL of ${r.wal.source}${r.wal.firstSegment ? ` (${r.wal.firstSegment} … ${r.wal.lastSegment})` : ''}.`, {
      hint: 'Widen the range with --since, check --tables, or give the target yourself: --target time:2026-11-25T01:42:00Z, xid:N or lsn:X/Y.',
      details: r.warnings.map((w) => w.message),
    });
  }
  return { ...eventTarget(event), event };
}

/** An event as an exact, exclusive recovery target. */
export function eventTarget(e: LocatedEvent): ResolvedTarget {
  const what = `${e.kind}${e.relations.length ? ` of ${e.relations.map((r) => r.name ?? `base/${e.database.oid}/${r.relfilenode}`).join(', ')}` : ''}`;
  if (e.kind === 'drop-database') {
    // The files go at the DROP dir record, before the commit: stop before the transaction's first record.
    return { kind: 'lsn', xid: e.xid, firstLsn: e.firstLsn, commitLsn: e.firstLsn, time: e.commitTime, database: dbLabel(e), inclusive: false, origin: `locate: DROP DATABASE ${e.database.name ?? e.database.oid} (xid ${e.xid}; stop before its first record)` };
  }
  return { kind: 'xid', xid: e.xid, firstLsn: e.firstLsn, commitLsn: e.commitLsn, time: e.commitTime, database: dbLabel(e), inclusive: false, origin: `locate: ${what} (xid ${e.xid})` };
}

function dbLabel(e: LocatedEvent): string {
  return e.database.name ?? String(e.database.oid);
}

/** The contract's `locate` JSON document. */
export function locateJson(r: LocateResult): LocateDocument {
  return {
    events: r.events.map(eventJson),
    ignored: r.ignored.map(eventJson),
    undrop: r.undrop.map(eventJson),
    wal: r.wal,
    catalogs: r.catalogs,
    warnings: r.warnings,
    durationMs: r.durationMs,
  };
}

function eventJson(e: LocatedEvent): LocateEventDocument {
  return {
    xid: e.xid,
    lsn: e.lsn,
    commitTime: e.commitTime,
    kind: e.kind,
    ...(e.operation && e.kind === 'delete' ? { operation: e.operation } : {}),
    relations: e.relations.map((r) => ({ relfilenode: r.relfilenode, name: r.name, oid: r.oid ?? null, relkind: r.relkind ?? null, files: r.files, rows: r.rows ?? null, rowsKind: r.rowsKind ?? null, ...(r.bornAt ? { bornAt: r.bornAt, bornByRewrite: !!r.bornByRewrite } : {}) })),
    target: e.target,
    firstLsn: e.firstLsn,
    commitLsn: e.commitLsn,
    database: e.database,
    recreated: e.recreated.map((r) => ({ relfilenode: r.relfilenode, name: r.name, oid: r.oid ?? null })),
    rowsLost: e.rowsLost,
    rowsKind: e.rowsKind ?? null,
    catalog: e.catalog,
    ...(e.partial ? { partial: true as const } : {}),
    ...(e.ignoredBy ? { ignoredBy: e.ignoredBy } : {}),
    named: e.relations.every((r) => r.name !== null),
    ...(e.unnamedReason ? { unnamedReason: e.unnamedReason } : {}),
    notes: e.notes,
  };
}

// ---------------------------------------------------------------------------

function safeConn(dsn: string | undefined): ConnParams | undefined {
  try {
    return resolveConnParams(dsn);
  } catch {
    return undefined;
  }
}

async function systemIdentifier(p: ConnParams): Promise<string | undefined> {
  try {
    return await withClient({ ...p, database: p.database ?? 'postgres' }, async (c) => String((await c.query('select system_identifier::text as id from pg_control_system()')).rows[0].id), { connectTimeoutMs: 5000, statementTimeoutMs: 5000 });
  } catch {
    return undefined;
  }
}

function isLsnText(s: string): boolean {
  return /^[0-9A-Fa-f]+\/[0-9A-Fa-f]+$/.test(s);
}

async function dbName(oid: number, catalogs: Catalog[], cache: Map<number, string | null>): Promise<string | null> {
  if (cache.has(oid)) return cache.get(oid)!;
  let name: string | null = null;
  for (const c of catalogs) {
    try {
      const m = await databaseNames(c.params('postgres'));
      if (m.has(oid)) {
        name = m.get(oid)!;
        break;
      }
    } catch {
      /* next catalog */
    }
  }
  cache.set(oid, name);
  return name;
}

interface Named {
  rows: CatalogRow[];
  catalog?: Catalog;
}

/** Ask catalogs in order until the files/OIDs are known; returns the rows and the first catalog that answered. */
async function ask(catalogs: Catalog[], db: string, files: number[], oids: number[]): Promise<Named> {
  const rows: CatalogRow[] = [];
  let used: Catalog | undefined;
  let leftFiles = [...files];
  let leftOids = [...oids];
  for (const c of catalogs) {
    if (leftFiles.length === 0 && leftOids.length === 0) break;
    let got: CatalogRow[];
    try {
      got = await lookupRelations(c.params(db), leftFiles, leftOids);
    } catch {
      continue;
    }
    if (got.length === 0) continue;
    used ??= c;
    rows.push(...got);
    leftFiles = leftFiles.filter((f) => !got.some((r) => r.filenode === f));
    leftOids = leftOids.filter((o) => !got.some((r) => r.oid === o));
  }
  return { rows, catalog: used };
}

function groupByOwner(files: number[], rows: CatalogRow[], fileKey: 'filenode' | 'oid' = 'filenode'): EventRelation[] {
  const out = new Map<string, EventRelation>();
  for (const f of files) {
    const row = rows.find((r) => (fileKey === 'filenode' ? r.filenode : r.oid) === f);
    if (!row) {
      out.set(`raw:${f}`, { relfilenode: f, name: null, files: [f] });
      continue;
    }
    const key = `o:${row.ownerOid}`;
    const cur = out.get(key);
    if (cur) cur.files.push(f);
    else {
      out.set(key, {
        relfilenode: row.ownerFilenode,
        oid: row.ownerOid,
        name: displayName({ schema: row.ownerSchema, name: row.ownerName }),
        relkind: row.ownerKind,
        files: [f],
        rows: row.ownerTuples >= 0 ? Math.round(row.ownerTuples) : null,
        rowsKind: row.ownerTuples >= 0 ? 'estimate' : undefined,
      });
    }
  }
  return [...out.values()];
}

const CATALOG_SCHEMAS = new Set(['pg_catalog', 'information_schema']);

function isCatalogRel(r: EventRelation): boolean {
  if (!r.name) return false;
  const schema = r.name.split('.')[0]!.replace(/"/g, '');
  return CATALOG_SCHEMAS.has(schema) || (r.oid !== undefined && r.oid < FIRST_NORMAL_OBJECT_ID);
}

async function nameEvent(e: RawEvent, catalogs: Catalog[], dbCache: Map<number, string | null>, own: OwnObjects, births: Map<number, FileBirth>): Promise<LocatedEvent> {
  const notes: string[] = [];
  const past = catalogs.filter((c) => c.kind !== 'production' && c.predates(e.firstLsn));
  const prod = catalogs.filter((c) => c.kind === 'production');
  const name = e.databaseOid ? await dbName(e.databaseOid, [...past, ...prod], dbCache) : null;
  const base: Omit<LocatedEvent, 'relations' | 'recreated' | 'rowsLost' | 'catalog'> = {
    kind: e.kind,
    ...(e.operation ? { operation: e.operation } : {}),
    xid: String(e.xid),
    lsn: e.commitLsn,
    firstLsn: e.firstLsn,
    commitLsn: e.commitLsn,
    commitTime: e.commitTime,
    database: { oid: e.databaseOid, name },
    target: { xid: String(e.xid), inclusive: false },
    ...(e.partial ? { partial: true as const } : {}),
    notes,
  };
  if (e.kind === 'drop-database') {
    base.target = { xid: String(e.xid), inclusive: false, lsn: e.firstLsn, note: 'DROP DATABASE removes the files at its DROP dir record, before the commit: use recovery_target_lsn = lsn (exclusive), not the xid.' };
    if (!name) notes.push(`Database OID ${e.databaseOid}: no catalog that predates the drop was available to name it.`);
    return { ...base, relations: [], recreated: [], rowsLost: null, catalog: name ? (past[0] ?? prod[0])?.label ?? null : null };
  }
  if (e.partial) notes.push('The transaction began before the scanned WAL (or across a gap): its first LSN is an upper bound.');
  const db = name ?? '';
  let relations: EventRelation[] = [];
  let recreated: EventRelation[] = [];
  let used: Catalog | undefined;
  if (e.kind === 'delete') {
    const files = e.rowChanges.map((r) => r.relfilenode);
    const got = db ? await ask([...past, ...prod], db, files, []) : { rows: [] };
    used = got.catalog;
    relations = groupByOwner(files, got.rows);
    for (const rel of relations) {
      const n = e.rowChanges.filter((r) => rel.files.includes(r.relfilenode)).reduce((a, r) => a + (e.operation === 'update' ? r.updates : r.deletes), 0);
      rel.rows = n;
      rel.rowsKind = 'wal-records';
    }
  } else {
    // Files as of before the event: a past catalog knows them; production may know the OIDs (TRUNCATE keeps them).
    let got: Named = db ? await ask(past, db, e.droppedFiles, e.droppedOids) : { rows: [] };
    if (db && e.droppedFiles.some((f) => !got.rows.some((r) => r.filenode === f))) {
      // Files made after the catalog's point (a rewrite, a table created later): replay the copy on to just before this event.
      for (const c of catalogs) {
        if (c.advanceTo && c.asOfLsn && Lsn.before(c.asOfLsn, e.firstLsn) && !e.partial && (await c.advanceTo(e.firstLsn))) {
          got = await ask([c, ...past.filter((p) => p !== c)], db, e.droppedFiles, e.droppedOids);
          break;
        }
      }
    }
    used = got.catalog;
    relations = groupByOwner(e.droppedFiles, got.rows);
    if (relations.some((r) => r.name === null) && db) {
      // TRUNCATE: the table still exists under the same OID; a drop without a past catalog: nothing to learn from production.
      const oids = e.kind === 'truncate' ? e.lockedOids : [];
      const current = oids.length ? await ask(prod, db, [], oids) : { rows: [] as CatalogRow[] };
      if (current.rows.length) {
        used ??= current.catalog;
        const tablesNow = groupByOwner(oids, current.rows, 'oid').filter((r) => r.name);
        const unnamed = relations.filter((r) => r.name === null).map((r) => r.relfilenode);
        relations = relations.filter((r) => r.name !== null);
        for (const t of tablesNow) {
          if (relations.some((r) => r.oid === t.oid)) continue;
          // The old heap file of a never-rewritten table has the table's OID as its number.
          const heap = unnamed.includes(t.oid!) ? t.oid! : null;
          relations.push({ ...t, relfilenode: heap ?? t.relfilenode, files: heap ? [heap] : [], rows: null, rowsKind: undefined });
        }
        if (tablesNow.length) notes.push('Names from the current catalog by OID (the table still exists); its old row count is not known there.');
      }
    }
    if (e.createdFiles.length && e.kind === 'drop' && db) {
      const now = await ask(prod, db, e.createdFiles, []);
      recreated = groupByOwner(e.createdFiles, now.rows).filter((r) => r.name !== null && r.relkind !== 'i');
    }
    // Exact counts from a past catalog when cheap.
    if (used && used.kind !== 'production' && db) {
      for (const r of relations) {
        if (!r.name || !r.relkind || !['r', 'p', 'm'].includes(r.relkind)) continue;
        const [schema, table] = splitName(r.name);
        const n = await countRows(used.params(db), schema, table);
        if (n !== undefined) {
          r.rows = n;
          r.rowsKind = 'exact';
        }
      }
    }
  }
  if (e.kind !== 'delete' && db && past.length) {
    const owners = async (files: number[]) => groupByOwner(files, (await ask(past, db, files, [])).rows).filter((x) => x.name !== null && !isCatalogRel(x));
    relations = await nameByLineage(relations, births, owners, notes);
  }
  relations = nameOwnFiles(relations, own.files.get(e.databaseOid) ?? own.files.get(0));
  for (const r of relations) {
    if (r.name !== null) continue;
    const b = births.get(r.relfilenode);
    if (b && Lsn.before(b.lsn, e.firstLsn)) {
      r.bornAt = b.lsn;
      if (b.replaced.length) r.bornByRewrite = true;
    }
  }
  // Only tables are reported; their indexes, TOAST and sequences are in `files`.
  relations = relations.filter((r) => !isCatalogRel(r));
  if (relations.some((r) => r.name === null)) {
    notes.push(
      used
        ? `Some files were not in ${used.label}; they are shown as base/${e.databaseOid}/<relfilenode>.`
        : `No catalog that predates this event was available, so files are shown as base/${e.databaseOid}/<relfilenode>. Name them with a copy of a base backup from before the event (recovery_target = 'immediate', then: select pg_filenode_relation(0, <relfilenode>)::regclass), or oid2name -f <relfilenode> on a delayed replica.`,
    );
  }
  const known = relations.filter((r) => typeof r.rows === 'number');
  const rowsLost = known.length ? known.reduce((a, r) => a + (r.rows ?? 0), 0) : null;
  const rowsKind = known.some((r) => r.rowsKind === 'estimate') ? 'estimate' : known[0]?.rowsKind;
  return { ...base, relations, recreated, rowsLost, ...(rowsKind ? { rowsKind } : {}), catalog: used?.label ?? null };
}

/** Files no catalog knew but an incident folder recorded as undrop's own side-schema tables. */
function nameOwnFiles(relations: EventRelation[], files: Map<number, string> | undefined): EventRelation[] {
  if (!files?.size) return relations;
  const out: EventRelation[] = [];
  for (const r of relations) {
    const name = r.name === null ? files.get(r.relfilenode) : undefined;
    if (name === undefined) {
      out.push(r);
      continue;
    }
    const same = out.find((x) => x.name === name);
    if (same) same.files.push(...r.files);
    else out.push({ ...r, name, relkind: 'r' });
  }
  return out;
}

function splitName(display: string): [string, string] {
  const parts: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < display.length; i++) {
    const ch = display[i]!;
    if (ch === '"') {
      if (q && display[i + 1] === '"') {
        cur += '"';
        i++;
      } else q = !q;
    } else if (ch === '.' && !q) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return [parts[0]!, parts[1] ?? ''];
}

/** Catalog-only rewrites and index rebuilds: not incidents. */
function isMaintenance(e: LocatedEvent): boolean {
  if (e.kind === 'drop-database') return false;
  if (e.relations.length === 0) return true;
  if (e.kind === 'truncate' && e.relations.every((r) => r.relkind === 'i')) return true;
  return false;
}

function globToRegExp(p: string): RegExp {
  const esc = p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${esc}$`);
}

function matchesPattern(re: RegExp, name: string): boolean {
  const [, table] = splitName(name);
  return re.test(name) || re.test(table);
}
