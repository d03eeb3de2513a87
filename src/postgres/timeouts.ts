// How long undrop lets a long program (pg_restore, pg_dump, psql, pgbackrest)
// or a WAL replay run before it stops it: options (--program-timeout,
// --replay-timeout), because a big source legitimately takes longer.
const HOUR = 3_600_000;
const limits = { programMs: 6 * HOUR, replayMs: 6 * HOUR };

export function setLongTimeouts(o: { programMs?: number; replayMs?: number }): void {
  if (o.programMs) limits.programMs = o.programMs;
  if (o.replayMs) limits.replayMs = o.replayMs;
}

export const longProgramTimeoutMs = (): number => limits.programMs;
export const replayTimeoutMs = (): number => limits.replayMs;
