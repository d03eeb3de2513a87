// What recovery steps tell the incident log. Library functions take an
// optional Timeline so they run the same with or without one (tests, bench).

export interface Timeline {
  /** Run fn as a named step: start, end, duration and failure are recorded. */
  step<T>(name: string, fn: () => Promise<T>, detail?: Record<string, unknown>): Promise<T>;
  /** A fact worth keeping (a table copied, a FK left out, a sequence set). */
  event(type: string, data?: Record<string, unknown>): void;
  /** A WAL position, with what it marks and on which server. */
  lsn(label: string, lsn: string | null, server: string): void;
}

/** A COMMIT answered (commit.ts): production holds that step's work (an incident log keeps it as a fact at once). */
export const COMMITTED = 'committed';

/** A Timeline that records nothing. */
export const silentTimeline: Timeline = {
  step: (_name, fn) => fn(),
  event: () => {},
  lsn: () => {},
};
