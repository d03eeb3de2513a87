// Naming an event's files: ask the catalogs that predate it (a delayed
// replica, a base backup copy replayed to just before it), then production
// for what still exists, file lineage for rewrites seen in the WAL, and
// exact row counts where a past catalog answers quickly.
import { FIRST_NORMAL_OBJECT_ID } from '../../postgres/object-ids.js';
import { displayName, parseTableName } from '../../postgres/identifiers.js';
import { Lsn } from '../../postgres/wal/lsn.js';
import { type Catalog, type CatalogRow, countRows, databaseNames, lookupRelations } from './catalog.js';
import { nameByLineage } from './lineage.js';
import type { OwnObjects } from './own-objects.js';
import type { EventRelation, FileBirth, LocatedEvent, RawEvent } from './types.js';

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
      got = (await lookupRelations(c.params(db), leftFiles, leftOids)).map((r) => c.unmove?.(r) ?? r);
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

export async function nameEvent(e: RawEvent, catalogs: Catalog[], dbCache: Map<number, string | null>, own: OwnObjects, births: Map<number, FileBirth>, o: { exactCounts?: boolean } = {}): Promise<LocatedEvent> {
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
    timeline: e.timeline ?? 1,
    database: { oid: e.databaseOid, name },
    target: { xid: String(e.xid), inclusive: false, timeline: String(e.timeline ?? 1) },
    ...(e.partial ? { partial: true as const } : {}),
    notes,
  };
  if (e.kind === 'drop-database') {
    base.target = { xid: String(e.xid), inclusive: false, lsn: e.firstLsn, timeline: String(e.timeline ?? 1), note: 'DROP DATABASE removes the files at its DROP dir record, before the commit: use recovery_target_lsn = lsn (exclusive), not the xid.' };
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
    if (used && used.kind !== 'production' && db && o.exactCounts !== false) {
      for (const r of relations) {
        if (!r.name || !r.relkind || !['r', 'p', 'm'].includes(r.relkind)) continue;
        const { schema = 'public', name: table } = parseTableName(r.name);
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
