// `pgbackrest info --output=json`: the stanza's status, backups and archive range.

export interface PgbrBackup {
  label: string;
  type: string;
  startTime: string | null;
  stopTime: string | null;
  startLsn: string | null;
  stopLsn: string | null;
  archiveStart: string | null;
  archiveStop: string | null;
  sizeBytes: number | null;
  repoSizeBytes: number | null;
  error: boolean;
}

export interface PgbrStanza {
  name: string;
  statusCode: number;
  statusMessage: string;
  systemId: string | null;
  pgVersion: string | null;
  archiveMin: string | null;
  archiveMax: string | null;
  backups: PgbrBackup[];
}

const epoch = (v: unknown): string | null => (typeof v === 'number' && v > 0 ? new Date(v * 1000).toISOString() : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

/** Parse the JSON; throws on text that is not pgbackrest's info document. */
export function parsePgbackrestInfo(json: string, stanza: string): PgbrStanza | null {
  // System identifiers exceed 2^53: keep them as strings.
  const doc = JSON.parse(json.replace(/"system-id"\s*:\s*(\d+)/g, '"system-id":"$1"')) as unknown;
  if (!Array.isArray(doc)) throw new Error('pgbackrest info did not return a JSON list');
  const s = (doc as Record<string, any>[]).find((x) => x?.name === stanza);
  if (!s) return null;
  const db = Array.isArray(s.db) && s.db.length ? s.db[s.db.length - 1] : null;
  const archives = Array.isArray(s.archive) ? s.archive : [];
  // Archive ranges per database id: use the current database's (the last db entry).
  const arch = archives.filter((a: any) => !db || a?.database?.id === db.id);
  const mins = arch.map((a: any) => str(a.min)).filter(Boolean) as string[];
  const maxs = arch.map((a: any) => str(a.max)).filter(Boolean) as string[];
  return {
    name: s.name,
    statusCode: Number(s.status?.code ?? 99),
    statusMessage: String(s.status?.message ?? 'unknown'),
    systemId: db?.['system-id'] !== undefined ? String(db['system-id']) : null,
    pgVersion: db?.version !== undefined ? String(db.version) : null,
    archiveMin: mins.length ? mins.sort()[0]! : null,
    archiveMax: maxs.length ? maxs.sort()[maxs.length - 1]! : null,
    backups: (Array.isArray(s.backup) ? s.backup : []).map(
      (b: any): PgbrBackup => ({
        label: String(b.label),
        type: String(b.type),
        startTime: epoch(b.timestamp?.start),
        stopTime: epoch(b.timestamp?.stop),
        startLsn: str(b.lsn?.start),
        stopLsn: str(b.lsn?.stop),
        archiveStart: str(b.archive?.start),
        archiveStop: str(b.archive?.stop),
        sizeBytes: typeof b.info?.size === 'number' ? b.info.size : null,
        repoSizeBytes: typeof b.info?.repository?.size === 'number' ? b.info.repository.size : null,
        error: b.error === true,
      }),
    ),
  };
}
