// `pgbackrest info` once per recovery, not once per step: the probe's answer,
// seconds old, is what materialize reads next (at seed scale the program took
// 0.34 s, on the cores the restore is about to need). An answer older than the
// caller allows (the guided flow may wait minutes on a question) is asked
// again; a failed one is never reused.
import { type PgbackrestOptions, pgbackrestInfo } from '../../postgres/programs.js';
import type { RunResult } from '../../postgres/run.js';

const recent = new Map<string, { at: number; answer: Promise<RunResult> }>();

/** pgbackrest info, or this process's answer for the same stanza begun at most `maxAgeMs` ago (0: always asks). */
export function stanzaInfo(o: PgbackrestOptions, maxAgeMs = 0): Promise<RunResult> {
  const key = JSON.stringify([o.stanza, o.config ?? null, o.repo ?? null]);
  const hit = recent.get(key);
  if (hit && Date.now() - hit.at <= maxAgeMs) return hit.answer;
  const entry = { at: Date.now(), answer: pgbackrestInfo(o) };
  recent.set(key, entry);
  const forget = () => {
    if (recent.get(key) === entry) recent.delete(key);
  };
  entry.answer.then((r) => r.exitCode === 0 || forget(), forget);
  return entry.answer;
}
