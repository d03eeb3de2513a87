// Barman's catalog as data: `barman -f json list-backups`, `show-backup`,
// `check` and `show-server` (Barman 3.x), parsed without running anything.
import { Lsn } from '../../postgres/wal/lsn.js';
import type { ResolvedTarget } from '../target.js';

export type BarmanStatus = 'DONE' | 'FAILED' | 'WAITING_FOR_WALS' | 'STARTED' | 'EMPTY' | 'SYNCING' | string;

export interface BarmanBackup {
  id: string;
  status: BarmanStatus;
  beginTime: string | null;
  endTime: string | null;
  beginLsn: string | null;
  endLsn: string | null;
  beginWal: string | null;
  endWal: string | null;
  timeline: number;
  sizeBytes: number | null;
  /** The error Barman recorded for a failed backup. */
  error: string | null;
  /** Tablespaces outside the data directory: `barman recover` writes them back to these locations. */
  tablespaces: { name: string; location: string }[];
}

type Json = Record<string, any>;

function serverPart(json: string, server: string): unknown {
  const doc = JSON.parse(json) as unknown;
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('barman did not return a JSON object');
  return (doc as Json)[server];
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 && v !== 'None' ? v : null);
const isoTime = (v: unknown): string | null => {
  const s = str(v);
  if (!s) return null;
  const t = Date.parse(s.replace(' ', 'T'));
  return Number.isNaN(t) ? null : new Date(t).toISOString();
};
const tablespacesOf = (v: unknown): { name: string; location: string }[] =>
  Array.isArray(v) ? (v as Json[]).map((t) => ({ name: String(t.name), location: String(t.location) })) : [];
const epoch = (v: unknown): string | null => {
  const n = typeof v === 'string' ? Number(v) : typeof v === 'number' ? v : NaN;
  return Number.isFinite(n) && n > 0 ? new Date(n * 1000).toISOString() : null;
};

/** `list-backups`: ids and statuses, newest first as Barman lists them. */
export function parseBackupList(json: string, server: string): { id: string; status: BarmanStatus; endTime: string | null; sizeBytes: number | null; tablespaces: { name: string; location: string }[] }[] {
  const list = serverPart(json, server);
  if (!Array.isArray(list)) return [];
  return (list as Json[]).map((b) => ({
    id: String(b.backup_id),
    status: String(b.status ?? 'UNKNOWN'),
    endTime: epoch(b.end_time_timestamp),
    sizeBytes: typeof b.size_bytes === 'number' ? b.size_bytes : null,
    tablespaces: tablespacesOf(b.tablespaces),
  }));
}

/** `show-backup SERVER ID`: begin/end time and LSN, WAL range, timeline, size. */
export function parseShowBackup(json: string, server: string): BarmanBackup | null {
  const b = serverPart(json, server) as Json | undefined;
  if (!b || typeof b !== 'object' || !b.backup_id) return null;
  const i = (b.base_backup_information ?? {}) as Json;
  return {
    id: String(b.backup_id),
    status: String(b.status ?? 'UNKNOWN'),
    beginTime: epoch(i.begin_time_timestamp) ?? isoTime(i.begin_time),
    endTime: epoch(i.end_time_timestamp) ?? isoTime(i.end_time),
    beginLsn: str(i.begin_lsn),
    endLsn: str(i.end_lsn),
    beginWal: str(i.begin_wal),
    endWal: str(i.end_wal),
    timeline: typeof i.timeline === 'number' ? i.timeline : 1,
    sizeBytes: typeof i.disk_usage_bytes === 'number' ? i.disk_usage_bytes : null,
    error: str(b.error),
    tablespaces: tablespacesOf(b.tablespaces),
  };
}

/** `check SERVER`: the checks that did not pass, with Barman's hint. */
export function parseCheck(json: string, server: string): { check: string; hint: string }[] {
  const c = serverPart(json, server) as Json | undefined;
  if (!c || typeof c !== 'object') return [];
  return Object.entries(c)
    .filter(([, v]) => v && typeof v === 'object' && String((v as Json).status) !== 'OK')
    .map(([k, v]) => ({ check: k.replace(/_/g, ' '), hint: String((v as Json).hint ?? '') }));
}

/** `show-server SERVER`: where Barman keeps the server's WAL and base backups. */
export function parseShowServer(json: string, server: string): { walsDirectory: string | null; basebackupsDirectory: string | null } {
  const s = (serverPart(json, server) ?? {}) as Json;
  return { walsDirectory: str(s.wals_directory), basebackupsDirectory: str(s.basebackups_directory) };
}

/** The newest DONE backup that ends before the target (the newest at all for xid, name or latest targets). */
export function chooseBackup(backups: readonly BarmanBackup[], target: ResolvedTarget): BarmanBackup | undefined {
  const limit = target.firstLsn ?? target.commitLsn;
  const ok = backups
    .filter((b) => b.status === 'DONE')
    .filter((b) => {
      if (limit && b.endLsn) return Lsn.compare(b.endLsn, limit) < 0;
      if (target.time && b.endTime) return Date.parse(b.endTime) < Date.parse(target.time);
      return !limit && !target.time;
    });
  return ok.sort((a, b) => (a.beginTime ?? '').localeCompare(b.beginTime ?? '')).pop();
}
