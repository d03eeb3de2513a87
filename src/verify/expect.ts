// A user query's expected result: a value, a {min, max} range, or true. Pure.
import type { Expectation } from '../inventory/verify-schema.js';

export function meetsExpectation(actual: unknown, expect: Expectation): boolean {
  if (expect === true) return actual === true || actual === 't' || actual === 'true';
  if (typeof expect === 'number') return actual !== null && Number(actual) === expect;
  if (typeof expect === 'string') return actual !== null && String(actual) === expect;
  if (actual === null || actual === undefined || Number.isNaN(Number(actual))) return false;
  const n = Number(actual);
  return (expect.min === undefined || n >= expect.min) && (expect.max === undefined || n <= expect.max);
}

export function describeExpectation(expect: Expectation): string {
  if (expect === true) return 'true';
  if (typeof expect !== 'object') return JSON.stringify(expect);
  if (expect.min !== undefined && expect.max !== undefined) return `between ${expect.min} and ${expect.max}`;
  return expect.min !== undefined ? `at least ${expect.min}` : `at most ${expect.max}`;
}

/** Rows allowed to differ from production's: tolerance plus per_day for each day of the source's age, never below slack. Pure. */
export function allowedRowDifference(productionRows: number, ageMs: number, tolerance: number, perDay: number, slack: number): number {
  const days = Math.max(0, ageMs) / 86_400_000;
  return Math.max(slack, Math.ceil(productionRows * (tolerance + perDay * days)));
}
