// Events on a branch production never followed: a PITR copy or an old
// primary that archived into the same place writes its own timeline there.
// Its DROPs are real in that WAL but are not what production lost, so they
// rank after every event on production's own history. Pure.
import type { HistoryEntry } from '../../postgres/wal/history.js';
import { Lsn } from '../../postgres/wal/lsn.js';

/** True: on the history of timeline `tli` (production's); false: on a branch; undefined: cannot tell (its history file is missing). */
export function onTimelineHistory(e: { timeline: number; commitLsn: string }, tli: number, histories: ReadonlyMap<number, HistoryEntry[]>): boolean | undefined {
  if (e.timeline === tli) return true;
  const hist = tli === 1 ? [] : histories.get(tli);
  if (!hist) return undefined;
  // The history lists each ancestor with the LSN where production's line left it.
  const left = hist.find((h) => h.parentTli === e.timeline);
  return left !== undefined && Lsn.before(e.commitLsn, left.switchLsn);
}

/** Production's history first (order kept), branch events after, each with a note saying why. */
export function branchesLast<E extends { timeline: number; commitLsn: string; notes: string[] }>(events: E[], prodTli: number | undefined, histories: ReadonlyMap<number, HistoryEntry[]>): E[] {
  if (prodTli === undefined) return events;
  const off = events.filter((e) => onTimelineHistory(e, prodTli, histories) === false);
  for (const e of off) {
    e.notes.push(`On timeline ${e.timeline}, a branch production's own history (timeline ${prodTli}) does not include (a PITR copy or an old primary archiving into the same place): not something production lost.`);
  }
  return [...events.filter((e) => !off.includes(e)), ...off];
}
