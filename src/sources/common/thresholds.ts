// max_age / min_size per source, with defaults per kind. Breaking one makes
// the item degraded, with a finding that says by how much.
import { parseDuration, parseSize } from '../../inventory/units.js';
import type { SourceKind } from '../../inventory/schema.js';
import { formatBytes, formatDuration } from '../../util/time.js';
import type { Finding } from '../types.js';
import { warn } from './findings.js';

export interface Thresholds {
  maxAgeMs: number | null;
  minSizeBytes: number | null;
  timeoutMs: number;
}

/** Defaults: nightly dumps and snapshots older than a day and a bit are stale; base backups weekly. */
export const DEFAULT_MAX_AGE_MS: Record<SourceKind, number | null> = {
  'delayed-replica': null,
  pitr: 8 * 86_400_000,
  pgbackrest: 8 * 86_400_000,
  snapshot: 26 * 3_600_000,
  dump: 26 * 3_600_000,
};
export const DEFAULT_MIN_SIZE: Record<SourceKind, number | null> = {
  'delayed-replica': null,
  pitr: null,
  pgbackrest: null,
  snapshot: null,
  dump: 1024,
};
export const DEFAULT_TIMEOUT_MS = 30_000;

export function thresholdsFor(config: { kind: SourceKind; max_age?: string; min_size?: string | number; timeout?: string }): Thresholds {
  return {
    maxAgeMs: config.max_age !== undefined ? (parseDuration(config.max_age) ?? null) : DEFAULT_MAX_AGE_MS[config.kind],
    minSizeBytes: config.min_size !== undefined ? (parseSize(config.min_size) ?? null) : DEFAULT_MIN_SIZE[config.kind],
    timeoutMs: config.timeout !== undefined ? (parseDuration(config.timeout) ?? DEFAULT_TIMEOUT_MS) : DEFAULT_TIMEOUT_MS,
  };
}

export function checkAge(t: Thresholds, time: Date | null, now: Date, what: string): Finding[] {
  if (t.maxAgeMs === null || time === null) return [];
  const age = now.getTime() - time.getTime();
  if (age <= t.maxAgeMs) return [];
  return [warn('TOO_OLD', `${what} is ${formatDuration(age)} old, older than max_age ${formatDuration(t.maxAgeMs)}.`, 'Check the job that produces it; set max_age in undrop.yaml if this age is expected.')];
}

export function checkSize(t: Thresholds, size: number | null, what: string): Finding[] {
  if (t.minSizeBytes === null || size === null) return [];
  if (size >= t.minSizeBytes) return [];
  return [warn('TOO_SMALL', `${what} is ${formatBytes(size)}, smaller than min_size ${formatBytes(t.minSizeBytes)}.`, 'Check that the job producing it completed; set min_size in undrop.yaml if this size is expected.')];
}
