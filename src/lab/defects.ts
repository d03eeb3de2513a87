// The scenario's planted defects. Those that can be planted at `lab up` are
// planted there; the WAL gap needs the incident's WAL archived first and is
// planted by `lab incident`.
import { readdirSync } from 'node:fs';
import { rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PgBinaries } from '../postgres/binaries.js';
import { pgArchivecleanup } from '../postgres/lab-programs.js';
import { isSegmentName } from '../postgres/wal/segments.js';
import { chownForServer } from '../postgres/os-user.js';
import { sleep } from '../util/time.js';
import { parseDuration } from '../inventory/units.js';
import { dumpFileName } from './dumps.js';
import type { LabLayout } from './layout.js';
import type { Defect, Scenario } from './scenarios.js';
import type { LabState } from './state.js';

type DefectRecord = LabState['defects'][number];

/** The most recent `count` nightly run times (02:00 UTC), newest first. */
export function recentNights(now: Date, count: number): Date[] {
  const night = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 2, 0, 0));
  if (night.getTime() > now.getTime()) night.setUTCDate(night.getUTCDate() - 1);
  return Array.from({ length: count }, (_, i) => new Date(night.getTime() - i * 86_400_000));
}

export function hasDefect<K extends Defect['kind']>(s: Scenario, kind: K): Extract<Defect, { kind: K }> | undefined {
  return s.defects.find((d) => d.kind === kind) as Extract<Defect, { kind: K }> | undefined;
}

/** When the last good dump claims to be from (old-good-dump), else undefined. */
export function oldDumpDate(s: Scenario, now = new Date()): Date | undefined {
  const d = hasDefect(s, 'old-good-dump');
  if (!d) return undefined;
  return new Date(now.getTime() - (parseDuration(d.age) ?? 0));
}

/** Plant the defects that exist before the incident. Updates state.dumps and returns what was planted. */
export async function plantUpDefects(bin: PgBinaries, layout: LabLayout, scenario: Scenario, state: LabState): Promise<DefectRecord[]> {
  const planted: DefectRecord[] = [];
  const at = () => new Date().toISOString();
  const broken = hasDefect(scenario, 'broken-dumps');
  if (broken) {
    for (const night of recentNights(new Date(), broken.count)) {
      const file = join(layout.dumps, dumpFileName(night, 'custom'));
      await writeFile(file, broken.text);
      await utimes(file, night, night);
      await chownForServer(file, false);
      state.dumps.push({ path: file, format: 'custom', takenAt: night.toISOString(), labelledAt: night.toISOString(), bytes: Buffer.byteLength(broken.text), valid: false, defect: 'broken-dump', tables: null });
      planted.push({ code: 'broken-dump', description: `${file} is the dump job's error message (${Buffer.byteLength(broken.text)} bytes), not a dump.`, path: file, at: at() });
    }
  }
  if (hasDefect(scenario, 'old-good-dump')) {
    for (const d of state.dumps.filter((x) => x.valid)) {
      planted.push({ code: 'old-good-dump', description: `${d.path} is the newest good dump; it claims to be from ${d.labelledAt}.`, path: d.path, at: at() });
    }
  }
  if (hasDefect(scenario, 'truncated-dump')) {
    const newest = state.dumps.filter((d) => d.format === 'custom' && d.valid).sort((a, b) => a.takenAt.localeCompare(b.takenAt)).pop();
    if (newest) {
      const half = Math.floor((await stat(newest.path)).size / 2);
      await truncate(newest.path, half);
      newest.bytes = half;
      newest.valid = false;
      newest.defect = 'truncated';
      planted.push({ code: 'truncated-dump', description: `${newest.path} was cut off halfway (${half} bytes); pg_restore -l still lists it.`, path: newest.path, at: at() });
    }
  }
  if (hasDefect(scenario, 'replica-no-delay')) {
    planted.push({ code: 'replica-no-delay', description: 'The "delayed" replica has recovery_min_apply_delay = 0: it replays the DROP at once.', path: state.replica?.dataDir ?? null, at: at() });
  }
  if (hasDefect(scenario, 'archive-retention')) {
    const newest = [...state.baseBackups].sort((a, b) => a.takenAt.localeCompare(b.takenAt)).pop();
    if (newest?.startLsn && newest.startWalFile) {
      // The backup history file names the oldest segment that backup needs.
      const history = await waitForFile(layout.archive, (n) => n.startsWith(newest.startWalFile!) && n.endsWith('.backup'), 60_000);
      const before = countSegments(layout.archive);
      await pgArchivecleanup(bin, layout.archive, history ?? newest.startWalFile);
      const removed = before - countSegments(layout.archive);
      planted.push({ code: 'archive-retention', description: `WAL archive cleaned up to the newest base backup (${newest.path}): ${removed} older segments removed, so older base backups cannot be rolled forward.`, path: layout.archive, at: at() });
    }
  }
  return planted;
}

export function countSegments(dir: string): number {
  try {
    return readdirSync(dir).filter(isSegmentName).length;
  } catch {
    return 0;
  }
}

export async function waitForFile(dir: string, match: (name: string) => boolean, timeoutMs: number): Promise<string | undefined> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const hit = readdirSync(dir).find(match);
    if (hit) return hit;
    await sleep(250);
  }
  return undefined;
}

/** Pick the segment to remove for a WAL gap: strictly between the backup's end segment and the incident's segment. */
export function chooseGapSegment(archived: string[], afterSegment: string, beforeSegment: string): string | undefined {
  const candidates = archived.filter((n) => isSegmentName(n) && n > afterSegment && n < beforeSegment).sort();
  if (!candidates.length) return undefined;
  return candidates[Math.floor(candidates.length / 2)];
}

/** Remove one segment from the plain archive, the pgBackRest repository and/or Barman's WAL folder. */
export async function removeSegment(layout: LabLayout, state: LabState, segment: string, from: ('archive' | 'pgbackrest' | 'barman')[]): Promise<string[]> {
  const removed: string[] = [];
  if (from.includes('archive') && state.archive) {
    const p = join(state.archive, segment);
    await rm(p, { force: true });
    removed.push(p);
  }
  if (from.includes('pgbackrest') && state.pgbackrest) {
    const archiveRoot = join(state.pgbackrest.repo, 'archive', state.pgbackrest.stanza);
    for (const ver of safeList(archiveRoot)) {
      const dir = join(archiveRoot, ver, segment.slice(0, 16));
      for (const f of safeList(dir).filter((n) => n.startsWith(segment))) {
        await rm(join(dir, f), { force: true });
        removed.push(join(dir, f));
      }
    }
  }
  if (from.includes('barman') && state.barman) {
    // Barman keeps WAL in hash folders (the segment name's first 16 characters); its catalog (xlog.db) still lists it, as after a lost disk.
    const dir = join(barmanWalsDir(state.barman.home, state.barman.server), segment.slice(0, 16));
    for (const f of safeList(dir).filter((n) => n.startsWith(segment))) {
      await rm(join(dir, f), { force: true });
      removed.push(join(dir, f));
    }
  }
  void layout;
  return removed;
}

/** Barman's default layout: barman_home/SERVER/wals. */
export function barmanWalsDir(home: string, server: string): string {
  return join(home, server, 'wals');
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
