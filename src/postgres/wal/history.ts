// Timeline history files (NNNNNNNN.history): one line per fork on the way to
// that timeline — parent timeline, the LSN where it was left, the reason.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface HistoryEntry {
  parentTli: number;
  switchLsn: string;
  reason: string;
}

export function parseHistory(text: string): HistoryEntry[] {
  const out: HistoryEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(\d+)\s+([0-9A-Fa-f]+\/[0-9A-Fa-f]+)\s*(.*)$/.exec(line);
    if (m) out.push({ parentTli: Number(m[1]), switchLsn: m[2]!.toUpperCase(), reason: m[3]!.trim() });
  }
  return out;
}

/** The history files in a folder, by the timeline they describe (unreadable ones left out). */
export async function readHistories(dir: string): Promise<Map<number, HistoryEntry[]>> {
  const out = new Map<number, HistoryEntry[]>();
  for (const n of await readdir(dir).catch(() => [] as string[])) {
    const m = /^([0-9A-F]{8})\.history$/.exec(n);
    if (!m) continue;
    const text = await readFile(join(dir, n), 'utf8').catch(() => undefined);
    if (text !== undefined) out.set(parseInt(m[1]!, 16), parseHistory(text));
  }
  return out;
}
