// backup_label (in a base backup) and the archived backup history file
// (<segment>.<offset>.backup): same "KEY: value" layout; the history file
// adds STOP WAL LOCATION / STOP TIME.
import { isLsn } from '../../postgres/wal/lsn.js';
import { parsePgTimestamp } from '../../util/time.js';

export interface BackupLabel {
  startLsn: string | null;
  startSegment: string | null;
  checkpointLsn: string | null;
  method: string | null;
  from: string | null;
  startTime: string | null;
  label: string | null;
  startTimeline: number | null;
  stopLsn: string | null;
  stopSegment: string | null;
  stopTime: string | null;
  stopTimeline: number | null;
}

/** Kept under its old name for callers and tests. */
export const parseLabelTime = (text: string | undefined): string | null => (text ? parsePgTimestamp(text) : null);

function lsnAndFile(v: string | undefined): [string | null, string | null] {
  if (!v) return [null, null];
  const m = /^([0-9A-Fa-f]+\/[0-9A-Fa-f]+)(?:\s+\(file ([0-9A-F]{24})\))?/.exec(v.trim());
  if (!m || !isLsn(m[1]!)) return [null, null];
  return [m[1]!.toUpperCase(), m[2] ?? null];
}

export function parseBackupLabel(text: string): BackupLabel {
  const kv: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(': ');
    if (i > 0) kv[line.slice(0, i).trim().toUpperCase()] = line.slice(i + 2).trim();
  }
  const [startLsn, startSegment] = lsnAndFile(kv['START WAL LOCATION']);
  const [stopLsn, stopSegment] = lsnAndFile(kv['STOP WAL LOCATION']);
  const [checkpointLsn] = lsnAndFile(kv['CHECKPOINT LOCATION']);
  const num = (v: string | undefined) => (v && /^\d+$/.test(v) ? Number(v) : null);
  return {
    startLsn,
    startSegment,
    checkpointLsn,
    method: kv['BACKUP METHOD'] ?? null,
    from: kv['BACKUP FROM'] ?? null,
    startTime: parseLabelTime(kv['START TIME']),
    label: kv['LABEL'] ?? null,
    startTimeline: num(kv['START TIMELINE']),
    stopLsn,
    stopSegment,
    stopTime: parseLabelTime(kv['STOP TIME']),
    stopTimeline: num(kv['STOP TIMELINE']),
  };
}

/** A backup_label must at least name its start: otherwise the file is not one. */
export function isValidLabel(l: BackupLabel): boolean {
  return l.startLsn !== null && l.checkpointLsn !== null;
}

/** Name of the archived history file for a backup starting at `startLsn` in `startSegment`. */
export function historyFileName(startSegment: string, startLsn: string, segmentSize = 16 * 1024 * 1024): string {
  const low = BigInt(`0x${startLsn.split('/')[1]}`);
  const offset = Number(low % BigInt(segmentSize));
  return `${startSegment}.${offset.toString(16).toUpperCase().padStart(8, '0')}.backup`;
}
