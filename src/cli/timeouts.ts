// --lock-timeout and --statement-timeout take PostgreSQL's spelling: a bare
// number is milliseconds (as in SET lock_timeout = 5000), or a number with a
// unit ("5s", "500ms", "2min").
import { usageError } from '../errors.js';
import { parseDuration } from '../inventory/units.js';

/** Milliseconds from a timeout flag; exit 2 on anything else. */
export function timeoutFlag(flag: string, text: string): number {
  const ms = /^\s*\d+\s*$/.test(text) ? Number(text) : parseDuration(text);
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) {
    throw usageError('TIMEOUT_INVALID', `${flag} ${text} is not a duration.`, `Give milliseconds (5000) or a number with a unit, as PostgreSQL does: 5s, 500ms, 2min.`);
  }
  return Math.round(ms);
}
