// The streaming state machine: pg_waldump lines in, destructive transactions
// out. Per open transaction it keeps only what classification needs (first
// LSN, locked OIDs, created files, per-relation DELETE/UPDATE counts, DROP
// dir records) and forgets it at COMMIT/ABORT, so memory follows the number
// of concurrently open transactions, not the amount of WAL.
import { FIRST_NORMAL_OBJECT_ID } from '../../postgres/object-ids.js';
import { Lsn } from '../../postgres/wal/lsn.js';
import { type TablespaceCreate, tablespaceCreateIn } from '../../postgres/replay-guard.js';
import { canonicalLsn, firstBlockRel, scanRecord, walTimeToIso } from '../../postgres/wal/records.js';
import type { DetectorOptions, DetectorStats, FileBirth, RawEvent } from './types.js';

interface XactState {
  firstLsn: string;
  db: number;
  locked?: Set<number>;
  created?: Set<number>;
  /** relfilenode → [deletes, updates] on user relations. */
  rows?: Map<number, [number, number]>;
  dropDir?: { lsn: string; tablespace: number; databaseOid: number }[];
  partial?: boolean;
}

function numbersAfter(desc: string, label: string): string | undefined {
  const at = desc.indexOf(label);
  if (at < 0) return undefined;
  const from = at + label.length;
  const end = desc.indexOf(';', from);
  return desc.slice(from, end < 0 ? desc.length : end);
}

/** `rels: base/16385/16412 pg_tblspc/16400/PG_15_202209061/16385/16500` → [db, relfilenode][] */
export function parseRels(list: string): [number, number][] {
  const out: [number, number][] = [];
  for (const p of list.trim().split(/\s+/)) {
    if (!p) continue;
    const parts = p.split('/');
    if (parts.length < 3) continue;
    const rfn = Number(parts[parts.length - 1]);
    const db = Number(parts[parts.length - 2]);
    if (Number.isFinite(rfn) && Number.isFinite(db)) out.push([db, rfn]);
  }
  return out;
}

/** `dropped stats: 2/16385/16410 1/16461/0` → relation OIDs (kind 2) with their database. */
export function parseDroppedStats(list: string): { kind: number; db: number; oid: number }[] {
  const out: { kind: number; db: number; oid: number }[] = [];
  for (const p of list.trim().split(/\s+/)) {
    const m = /^(\d+)\/(\d+)\/(\d+)$/.exec(p);
    if (m) out.push({ kind: Number(m[1]), db: Number(m[2]), oid: Number(m[3]) });
  }
  return out;
}

/** 32-bit transaction id comparison, as PostgreSQL does it (a precedes b). */
export function xidPrecedes(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

const TX = Buffer.from(', tx: ');
const BLKREF0 = Buffer.from('blkref #0: rel ');
const DELETE = Buffer.from('DELETE');
const UPDATE = Buffer.from('UPDATE');
const HOT_UPDATE = Buffer.from('HOT_UPDATE');

function startsWith(buf: Buffer, at: number, word: Buffer): boolean {
  for (let k = 0; k < word.length; k++) if (buf[at + k] !== word[k]) return false;
  return true;
}

export class EventDetector {
  private readonly open = new Map<number, XactState>();
  private readonly threshold: number;
  readonly stats: DetectorStats = { records: 0, commits: 0, aborts: 0, maxOpenXacts: 0, rewrites: 0 };
  /** relfilenode → the committed transaction that created it (file lineage, to tell new relations from old ones). */
  readonly births = new Map<number, FileBirth>();
  /** CREATE TABLESPACE records seen (the replay guard reads them from this scan instead of its own). */
  readonly tablespaceCreates: (TablespaceCreate & { lsn: string })[] = [];
  // Fast-path caches: the transaction of the previous line (runs of records of one xid are the norm) and its last counted relation.
  private lastXid = -1;
  private lastState: XactState | undefined;
  private lastRowsState: XactState | undefined;
  private lastRowsRfn = 0;
  private lastRows: [number, number] | undefined;
  /** Offset of ", tx: " in a record line (46 with PostgreSQL 15's layout); learned when it differs. */
  private txOffset = 46;

  constructor(
    private readonly emit: (e: RawEvent) => void,
    options: DetectorOptions,
  ) {
    this.threshold = Math.max(1, options.threshold);
  }

  /** Feed one pg_waldump output line. Returns the commit time of a COMMIT record (for --until), else undefined. */
  push(line: string): string | undefined {
    // This path may end or forget transactions: drop the fast path's caches.
    this.lastXid = -1;
    this.lastState = undefined;
    this.lastRowsState = undefined;
    const r = scanRecord(line);
    if (!r) return undefined;
    this.stats.records++;
    if (this.stats.firstLsn === undefined) this.stats.firstLsn = canonicalLsn(r.lsnText);
    this.stats.lastLsn = r.lsnText;
    const desc = r.descAt;
    switch (r.rmgr) {
      case 'Transaction':
        return this.transaction(line, r.xid, r.lsnText, desc);
      case 'Standby':
        if (line.startsWith('LOCK', desc)) this.lock(line, r.xid, r.lsnText, desc);
        else if (line.startsWith('RUNNING_XACTS', desc)) this.runningXacts(line, desc);
        return undefined;
      case 'Storage':
        if (r.xid !== 0 && line.startsWith('CREATE', desc)) {
          const rel = parseRels(line.slice(desc + 7));
          const st = this.state(r.xid, r.lsnText);
          for (const [db, rfn] of rel) {
            (st.created ??= new Set()).add(rfn);
            if (!st.db) st.db = db;
          }
        } else if (r.xid !== 0) this.state(r.xid, r.lsnText);
        return undefined;
      case 'Heap':
        if (r.xid === 0) return undefined;
        this.heap(line, r.xid, r.lsnText, desc);
        return undefined;
      case 'Tablespace': {
        const t = line.startsWith('CREATE', desc) ? tablespaceCreateIn(line) : undefined;
        if (t) this.tablespaceCreates.push({ ...t, lsn: canonicalLsn(r.lsnText) });
        if (r.xid !== 0) this.state(r.xid, r.lsnText);
        return undefined;
      }
      case 'Database':
        if (r.xid !== 0 && line.startsWith('DROP', desc)) {
          const st = this.state(r.xid, r.lsnText);
          // PG 15: "DROP dir 1663/16461"; PG ≤ 14: "drop dir 1663/16461"; several tablespaces: several pairs.
          for (const m of line.slice(desc).matchAll(/(\d+)\/(\d+)/g)) {
            (st.dropDir ??= []).push({ lsn: canonicalLsn(r.lsnText), tablespace: Number(m[1]), databaseOid: Number(m[2]) });
          }
        }
        return undefined;
      default:
        if (r.xid !== 0) this.state(r.xid, r.lsnText);
        return undefined;
    }
  }

  /**
   * Fast path over raw pg_waldump output: one line, buf[start, end) without
   * its newline. Gives the same result as push() on the same text, but the
   * lines that cannot make an event (Heap INSERT, Btree, Heap2, XLOG, … most
   * of the WAL) never become strings: their transaction id and, for Heap
   * DELETE / UPDATE / HOT_UPDATE, the relation of blkref #0 are read from the
   * bytes. Transaction, Standby, Storage and Database records (rare), and any
   * line whose layout is not the expected one, go through push().
   */
  pushBytes(buf: Buffer, start: number, end: number): string | undefined {
    const s = start;
    const c0 = buf[s + 6];
    const c1 = buf[s + 7];
    // Transaction, Tablespace, Standby/Storage, Database: the string path. So is the very first record (stats.firstLsn).
    if ((c0 === 84 /* T */ && (c1 === 114 /* r */ || c1 === 97) /* a */) || (c0 === 83 /* S */ && c1 === 116) /* t */ || (c0 === 68 /* D */ && c1 === 97) /* a */ || this.stats.firstLsn === undefined) {
      return this.slow(buf, start, end);
    }
    // ", tx: " at its usual offset (rmgr: %-11s len (rec/tot): %6u/%6u, tx: %10u, lsn: …), else find it.
    let tx = s + this.txOffset;
    if (!(tx + 16 < end && buf[tx] === 44 && buf[tx + 2] === 116 && buf[tx + 3] === 120 && buf[tx + 4] === 58 && buf[s] === 114 && buf[s + 4] === 58)) {
      const at = buf.indexOf(TX, s);
      if (at < 0 || at >= end || buf[s] !== 114 /* r */ || buf[s + 4] !== 58 /* : */) return this.slow(buf, start, end);
      tx = at;
      this.txOffset = at - s;
    }
    // %10u: right-aligned xid, then ", lsn: "
    let i = tx + 6;
    while (buf[i] === 32) i++;
    let xid = 0;
    for (let c = buf[i]!; c >= 48 && c <= 57; c = buf[++i]!) xid = xid * 10 + (c - 48);
    if (buf[i] !== 44 || buf[i + 2] !== 108 /* l */ || buf[i + 5] !== 58 /* : */) return this.slow(buf, start, end);
    this.stats.records++;
    if (xid === 0) return undefined;
    const lsnAt = i + 7;
    let st: XactState;
    if (xid === this.lastXid && this.lastState) st = this.lastState;
    else {
      const known = this.open.get(xid);
      if (known) st = known;
      else {
        let e = lsnAt;
        while (e < end && buf[e] !== 44) e++;
        st = this.state(xid, buf.toString('latin1', lsnAt, e));
      }
      this.lastXid = xid;
      this.lastState = st;
    }
    // Only Heap DELETE / UPDATE / HOT_UPDATE count rows.
    if (!(c0 === 72 /* H */ && c1 === 101 /* e */ && buf[s + 9] === 112 /* p */ && buf[s + 10] === 32)) return undefined;
    // "0/1692A2D0, prev 0/16928288, desc: "
    let d = lsnAt + 3;
    while (d < end && buf[d] !== 44) d++;
    d += 10;
    while (d < end && buf[d] !== 44) d++;
    if (buf[d] !== 44 || buf[d + 2] !== 100 /* d */ || buf[d + 6] !== 58 /* : */) return this.slow(buf, start, end);
    d += 8;
    const c = buf[d];
    let isDelete = false;
    if (c === 68 /* D */) {
      if (!startsWith(buf, d, DELETE)) return undefined;
      isDelete = true;
    } else if (c === 85 /* U */) {
      if (!startsWith(buf, d, UPDATE)) return undefined;
    } else if (c === 72 /* H */) {
      if (!startsWith(buf, d, HOT_UPDATE)) return undefined;
    } else return undefined;
    const at = buf.indexOf(BLKREF0, d);
    if (at < 0 || at >= end) return undefined;
    i = at + BLKREF0.length;
    while (buf[i] !== 47 /* / */ && i < end) i++;
    let db = 0;
    for (let k = buf[++i]!; k >= 48 && k <= 57; k = buf[++i]!) db = db * 10 + (k - 48);
    let rfn = 0;
    for (let k = buf[++i]!; k >= 48 && k <= 57; k = buf[++i]!) rfn = rfn * 10 + (k - 48);
    if (rfn < FIRST_NORMAL_OBJECT_ID || db === 0) return undefined; // catalogs and shared catalogs
    if (!st.db) st.db = db;
    let n: [number, number] | undefined;
    if (st === this.lastRowsState && rfn === this.lastRowsRfn) n = this.lastRows!;
    else {
      const rows = (st.rows ??= new Map());
      n = rows.get(rfn);
      if (!n) rows.set(rfn, (n = [0, 0]));
      this.lastRowsState = st;
      this.lastRowsRfn = rfn;
      this.lastRows = n;
    }
    if (isDelete) n[0]++;
    else n[1]++;
    return undefined;
  }

  /**
   * Feed a block of complete lines, buf[start, end), end just after a
   * newline. onCommit gets the time of every COMMIT; returning false stops
   * the block there. Returns false when stopped.
   */
  pushLines(buf: Buffer, start: number, end: number, onCommit?: (time: string) => boolean): boolean {
    let s = start;
    let last = -1;
    while (s < end) {
      let nl = buf.indexOf(10, s);
      if (nl < 0 || nl >= end) nl = end;
      if (nl > s + 6) {
        last = s;
        const t = this.pushBytes(buf, s, nl);
        if (t !== undefined && onCommit && !onCommit(t)) return false;
      } else if (nl > s) this.push(buf.toString('latin1', s, nl));
      s = nl + 1;
    }
    if (last >= 0 && this.stats.records > 0) {
      // stats.lastLsn: the last line of the block (not every line, to keep the hot path short).
      const e = buf.indexOf(10, last);
      const r = scanRecord(buf.toString('latin1', last, e < 0 || e > end ? end : e));
      if (r) this.stats.lastLsn = r.lsnText;
    }
    return true;
  }

  private slow(buf: Buffer, start: number, end: number): string | undefined {
    return this.push(buf.toString('latin1', start, end));
  }

  /** The next line read follows a missing stretch of WAL. */
  markGap(): void {
    for (const st of this.open.values()) st.partial = true;
  }

  /** Transactions still open at the end of the scan (in progress, prepared, or crashed). */
  openTransactions(): number {
    return this.open.size;
  }

  private state(xid: number, lsnText: string): XactState {
    let st = this.open.get(xid);
    if (!st) {
      st = { firstLsn: lsnText, db: 0 };
      this.open.set(xid, st);
      if (this.open.size > this.stats.maxOpenXacts) this.stats.maxOpenXacts = this.open.size;
    }
    return st;
  }

  private lock(line: string, xid: number, lsnText: string, desc: number): void {
    // "LOCK xid 29519 db 16385 rel 16396" (several triples possible)
    const text = line.slice(desc);
    const re = /xid (\d+) db (\d+) rel (\d+)/g;
    for (const m of text.matchAll(re)) {
      const x = Number(m[1]);
      const st = this.state(x || xid, lsnText);
      const db = Number(m[2]);
      if (!st.db) st.db = db;
      (st.locked ??= new Set()).add(Number(m[3]));
    }
  }

  private heap(line: string, xid: number, lsnText: string, desc: number): void {
    const st = this.state(xid, lsnText);
    // DELETE, UPDATE, HOT_UPDATE count; INSERT/LOCK/INPLACE/CONFIRM only open the transaction.
    let isDelete = false;
    let isUpdate = false;
    const c = line.charCodeAt(desc);
    if (c === 68 /* D */) isDelete = line.startsWith('DELETE', desc);
    else if (c === 85 /* U */) isUpdate = line.startsWith('UPDATE', desc);
    else if (c === 72 /* H */) isUpdate = line.startsWith('HOT_UPDATE', desc);
    if (!isDelete && !isUpdate) return;
    const rel = firstBlockRel(line, desc);
    if (!rel) return;
    const [, db, rfn] = rel;
    if (rfn < FIRST_NORMAL_OBJECT_ID || db === 0) return; // catalogs and shared catalogs
    if (!st.db) st.db = db;
    const rows = (st.rows ??= new Map());
    let n = rows.get(rfn);
    if (!n) rows.set(rfn, (n = [0, 0]));
    if (isDelete) n[0]++;
    else n[1]++;
  }

  private runningXacts(line: string, desc: number): void {
    // "RUNNING_XACTS nextXid 29520 latestCompletedXid 29518 oldestRunningXid 29519; …"
    const m = /oldestRunningXid (\d+)/.exec(line.slice(desc, desc + 120));
    if (!m) return;
    const oldest = Number(m[1]);
    // Transactions older than the oldest running one ended without a record we saw (a crash): forget them.
    for (const x of this.open.keys()) if (xidPrecedes(x, oldest)) this.open.delete(x);
  }

  private transaction(line: string, recXid: number, lsnText: string, descAt: number): string | undefined {
    const desc = line.slice(descAt);
    let kind: 'commit' | 'abort' | 'other' = 'other';
    let xid = recXid;
    let body = desc;
    if (desc.startsWith('COMMIT_PREPARED') || desc.startsWith('ABORT_PREPARED')) {
      // "COMMIT_PREPARED 745: 2026-… UTC; rels: …"
      const m = /^\w+ (\d+): /.exec(desc);
      if (m) {
        xid = Number(m[1]);
        body = desc.slice(m[0].length);
      }
      kind = desc.startsWith('COMMIT') ? 'commit' : 'abort';
    } else if (desc.startsWith('COMMIT ')) {
      kind = 'commit';
      body = desc.slice(7);
    } else if (desc.startsWith('ABORT ')) {
      kind = 'abort';
      body = desc.slice(6);
    } else {
      // PREPARE, ASSIGNMENT, INVALIDATION: the transaction stays open.
      if (recXid !== 0) this.state(recXid, lsnText);
      return undefined;
    }
    const semi = body.indexOf(';');
    const time = walTimeToIso(semi < 0 ? body : body.slice(0, semi));
    const subs = body.includes('subxacts:') ? (numbersAfter(body, 'subxacts:') ?? '').trim().split(/\s+/).filter(Boolean).map(Number) : [];
    if (kind === 'abort') {
      this.stats.aborts++;
      this.open.delete(xid);
      for (const s of subs) this.open.delete(s);
      return undefined;
    }
    this.stats.commits++;
    if (this.stats.firstCommitTime === undefined) this.stats.firstCommitTime = time;
    this.stats.lastCommitTime = time;
    const st = this.open.get(xid);
    this.open.delete(xid);
    // Merge committed subtransactions into the top-level state.
    let merged = st;
    for (const s of subs) {
      const sub = this.open.get(s);
      if (!sub) continue;
      this.open.delete(s);
      merged = mergeStates(merged, sub);
    }
    const hasRels = body.includes('rels:');
    const hasDropped = body.includes('dropped stats:');
    if (merged?.created?.size) {
      const unlinked = hasRels ? parseRels(numbersAfter(body, 'rels:') ?? '').map(([, rfn]) => rfn).filter((rfn) => !merged!.created!.has(rfn)) : [];
      const birth: FileBirth = { lsn: canonicalLsn(lsnText), xid, replaced: unlinked };
      for (const rfn of merged.created) this.births.set(rfn, birth);
    }
    if (!merged && !hasRels) return time;
    if (!hasRels && !merged?.dropDir && !merged?.rows) return time;
    this.classify(xid, lsnText, time, body, merged ?? { firstLsn: lsnText, db: 0, partial: true }, hasRels, hasDropped);
    return time;
  }

  private classify(xid: number, lsnText: string, time: string, body: string, st: XactState, hasRels: boolean, hasDropped: boolean): void {
    const created = st.created ?? new Set<number>();
    const rels = hasRels ? parseRels(numbersAfter(body, 'rels:') ?? '') : [];
    const dropped = hasDropped ? parseDroppedStats(numbersAfter(body, 'dropped stats:') ?? '') : [];
    let db = st.db;
    if (!db && rels.length) db = rels[0]![0];
    const droppedFiles = rels.filter(([, rfn]) => !created.has(rfn)).map(([, rfn]) => rfn);
    const relOids = dropped.filter((d) => d.kind === 2);
    const droppedOids = relOids.filter((d) => !created.has(d.oid)).map((d) => d.oid);
    const transient = relOids.some((d) => created.has(d.oid));
    const goneCreated = new Set(rels.filter(([, rfn]) => created.has(rfn)).map(([, rfn]) => rfn));
    const createdFiles = [...created].filter((rfn) => !goneCreated.has(rfn) && !relOids.some((d) => d.oid === rfn));
    const rowChanges: RawEvent['rowChanges'] = [];
    for (const [rfn, [d, u]] of st.rows ?? []) {
      if (d >= this.threshold || u >= this.threshold) rowChanges.push({ relfilenode: rfn, deletes: d, updates: u });
    }
    const base = {
      xid,
      firstLsn: canonicalLsn(st.firstLsn),
      commitLsn: canonicalLsn(lsnText),
      commitTime: time,
      databaseOid: db,
      droppedFiles,
      droppedOids,
      lockedOids: [...(st.locked ?? [])],
      createdFiles,
      rowChanges,
      ...(st.partial ? { partial: true } : {}),
    };
    if (st.dropDir?.length) {
      const d = st.dropDir[0]!;
      this.emit({ ...base, kind: 'drop-database', databaseOid: d.databaseOid, dropDir: st.dropDir });
      return;
    }
    if (droppedFiles.length > 0) {
      if (droppedOids.length > 0) {
        this.emit({ ...base, kind: 'drop' });
        return;
      }
      if (transient) {
        // VACUUM FULL / CLUSTER / ALTER TABLE rewrite: the old files go with a transient heap made in this transaction.
        this.stats.rewrites++;
        if (rowChanges.length === 0) return;
      } else {
        // New files and no dropped relation: TRUNCATE. No new files and no dropped stats (PostgreSQL < 15): DROP.
        this.emit({ ...base, kind: created.size > 0 ? 'truncate' : 'drop' });
        return;
      }
    }
    if (rowChanges.length > 0) {
      const deletes = rowChanges.reduce((a, r) => a + r.deletes, 0);
      const updates = rowChanges.reduce((a, r) => a + r.updates, 0);
      this.emit({ ...base, kind: 'delete', operation: deletes >= updates ? 'delete' : 'update' });
    }
  }
}

function mergeStates(a: XactState | undefined, b: XactState): XactState {
  if (!a) return b;
  const out: XactState = { ...a };
  if (b.firstLsn && Lsn.before(b.firstLsn, a.firstLsn)) out.firstLsn = b.firstLsn;
  if (!out.db) out.db = b.db;
  if (b.locked) out.locked = new Set([...(a.locked ?? []), ...b.locked]);
  if (b.created) out.created = new Set([...(a.created ?? []), ...b.created]);
  if (b.rows) {
    const rows = new Map(a.rows ?? []);
    for (const [k, [d, u]] of b.rows) {
      const cur = rows.get(k) ?? [0, 0];
      rows.set(k, [cur[0] + d, cur[1] + u]);
    }
    out.rows = rows;
  }
  if (b.dropDir) out.dropDir = [...(a.dropDir ?? []), ...b.dropDir];
  out.partial = a.partial || b.partial;
  return out;
}
