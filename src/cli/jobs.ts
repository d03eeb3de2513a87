// --jobs N: how many connections copy back opens on production at once.
import { usageError } from '../errors.js';

/** The flag's value as a whole number ≥ 1, or undefined when not given (the default applies). */
export function jobsFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  // digits only: "2.5", "1e2", "0x4" and " 3" are refused rather than read some way
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw usageError('JOBS_INVALID', `--jobs ${JSON.stringify(value)} is not a whole number of 1 or more.`, 'For example --jobs 2 (at most 2 connections to production during copy back), or leave it out: one per table, up to 4.');
  }
  return n;
}
