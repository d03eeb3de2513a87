// backup_manifest: the WAL range a backup needs (the end LSN is there and
// not in backup_label) and, from version 2 (PostgreSQL 17), the system
// identifier. Manifests list every file, so only the head and tail are read.

export interface WalRange {
  timeline: number;
  startLsn: string;
  endLsn: string;
}

export interface ManifestInfo {
  version: number | null;
  systemIdentifier: string | null;
  walRanges: WalRange[];
}

export function parseManifestParts(head: string, tail: string): ManifestInfo {
  const v = /"PostgreSQL-Backup-Manifest-Version"\s*:\s*(\d+)/.exec(head);
  const sid = /"System-Identifier"\s*:\s*"?(\d+)"?/.exec(head);
  const walRanges: WalRange[] = [];
  const at = tail.lastIndexOf('"WAL-Ranges"');
  if (at >= 0) {
    const re = /\{\s*"Timeline"\s*:\s*(\d+)\s*,\s*"Start-LSN"\s*:\s*"([0-9A-Fa-f]+\/[0-9A-Fa-f]+)"\s*,\s*"End-LSN"\s*:\s*"([0-9A-Fa-f]+\/[0-9A-Fa-f]+)"\s*\}/g;
    for (const m of tail.slice(at).matchAll(re)) walRanges.push({ timeline: Number(m[1]), startLsn: m[2]!.toUpperCase(), endLsn: m[3]!.toUpperCase() });
  }
  return { version: v ? Number(v[1]) : null, systemIdentifier: sid ? sid[1]! : null, walRanges };
}

export function parseManifest(text: string): ManifestInfo {
  return parseManifestParts(text.slice(0, 4096), text.slice(-65536));
}

/** The backup's end: the last WAL range's End-LSN. */
export function manifestEndLsn(m: ManifestInfo): string | null {
  return m.walRanges.length ? m.walRanges[m.walRanges.length - 1]!.endLsn : null;
}
