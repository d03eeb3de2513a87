// locate's result as the contract's JSON document (src/contract.ts).
import type { LocateDocument, LocateEventDocument } from '../../contract.js';
import type { LocatedEvent, LocateResult } from './types.js';

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
    timeline: e.timeline,
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
