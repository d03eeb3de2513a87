// What pg_controldata says about a data directory, in the terms a probe needs.

export interface ControlSummary {
  state: string | null;
  systemIdentifier: string | null;
  checkpointTime: string | null;
  redoLsn: string | null;
  redoWalFile: string | null;
  checkpointLsn: string | null;
  timeline: number | null;
  minRecoveryEnd: string | null;
  backupEndRequired: boolean;
}

/** "Wed Nov 25 01:35:40 2026" (pg_controldata prints local time) → ISO 8601. */
export function parseControlTime(text: string | undefined): string | null {
  if (!text) return null;
  const t = Date.parse(text);
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

export function summarizeControldata(cd: Record<string, string>): ControlSummary {
  const tl = cd["Latest checkpoint's TimeLineID"];
  return {
    state: cd['Database cluster state'] ?? null,
    systemIdentifier: cd['Database system identifier'] ?? null,
    checkpointTime: parseControlTime(cd['Time of latest checkpoint']),
    redoLsn: cd["Latest checkpoint's REDO location"] ?? null,
    redoWalFile: cd["Latest checkpoint's REDO WAL file"] ?? null,
    checkpointLsn: cd['Latest checkpoint location'] ?? null,
    timeline: tl !== undefined && /^\d+$/.test(tl) ? Number(tl) : null,
    minRecoveryEnd: cd['Minimum recovery ending location'] ?? null,
    backupEndRequired: cd['End-of-backup record required'] === 'yes',
  };
}

/** A timestamp in a snapshot's path (…/snapshots/2026-11-25T013726Z/pgdata, …/20261125-0137/…) → ISO, else null. */
export function timeFromPath(path: string): string | null {
  const re = /(\d{4})-?(\d{2})-?(\d{2})[T_ -]?(\d{2}):?(\d{2})(?::?(\d{2}))?(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?/g;
  let last: string | null = null;
  for (const m of path.matchAll(re)) {
    const [, y, mo, d, h, mi, s, z] = m;
    const zone = !z || z === 'Z' ? 'Z' : z.length === 5 ? `${z.slice(0, 3)}:${z.slice(3)}` : z;
    const iso = `${y}-${mo}-${d}T${h}:${mi}:${s ?? '00'}${zone}`;
    const t = Date.parse(iso);
    if (!Number.isNaN(t) && Number(mo) >= 1 && Number(mo) <= 12 && Number(h) < 24) last = new Date(t).toISOString();
  }
  return last;
}
