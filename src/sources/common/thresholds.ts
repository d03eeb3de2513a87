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
  minRows: number | null;
  maxVerifyDurationMs: number | null;
  maxLossWindowMs: number | null;
}

/** Defaults: nightly dumps and snapshots older than a day and a bit are stale; base backups weekly. */
export const DEFAULT_MAX_AGE_MS: Record<SourceKind, number | null> = {
  'delayed-replica': null,
  pitr: 8 * 86_400_000,
  pgbackrest: 8 * 86_400_000,
  barman: 8 * 86_400_000,
  snapshot: 26 * 3_600_000,
  dump: 26 * 3_600_000,
};
export const DEFAULT_MIN_SIZE: Record<SourceKind, number | null> = {
  'delayed-replica': null,
  pitr: null,
  pgbackrest: null,
  barman: null,
  snapshot: null,
  dump: 1024,
};
export const DEFAULT_TIMEOUT_MS = 30_000;

export function thresholdsFor(config: { kind: SourceKind; max_age?: string; min_size?: string | number; timeout?: string; min_rows?: number; max_verify_duration?: string; max_loss_window?: string }): Thresholds {
  return {
    maxAgeMs: config.max_age !== undefined ? (parseDuration(config.max_age) ?? null) : DEFAULT_MAX_AGE_MS[config.kind],
    minSizeBytes: config.min_size !== undefined ? (parseSize(config.min_size) ?? null) : DEFAULT_MIN_SIZE[config.kind],
    timeoutMs: config.timeout !== undefined ? (parseDuration(config.timeout) ?? DEFAULT_TIMEOUT_MS) : DEFAULT_TIMEOUT_MS,
    minRows: config.min_rows ?? null,
    maxVerifyDurationMs: config.max_verify_duration !== undefined ? (parseDuration(config.max_verify_duration) ?? null) : null,
    maxLossWindowMs: config.max_loss_window !== undefined ? (parseDuration(config.max_loss_window) ?? null) : null,
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

/** max_loss_window: what an incident right now would lose (now minus the recovery point). */
export function checkLossWindow(t: Thresholds, pointTime: string | null | undefined, now: Date): Finding[] {
  if (t.maxLossWindowMs === null || !pointTime) return [];
  const loss = now.getTime() - Date.parse(pointTime);
  if (loss <= t.maxLossWindowMs) return [];
  return [warn('LOSS_WINDOW', `An incident now would lose ${formatDuration(loss)} of work, more than max_loss_window ${formatDuration(t.maxLossWindowMs)}.`, 'The source lags: check its schedule (backups, archiving, replication); set max_loss_window in undrop.yaml if this is expected.')];
}

/** min_rows: the rows counted over the source's tables (only when some were counted). */
export function checkMinRows(t: Thresholds, rows: number | null): Finding[] {
  if (t.minRows === null || rows === null || rows >= t.minRows) return [];
  return [warn('TOO_FEW_ROWS', `The source holds ${rows} rows, fewer than min_rows ${t.minRows}.`, 'Check that the backup holds the real data; set min_rows in undrop.yaml if this is expected.')];
}

/** max_verify_duration: a restore test slower than the budget. */
export function checkVerifyDuration(t: Thresholds, ms: number): Finding[] {
  if (t.maxVerifyDurationMs === null || ms <= t.maxVerifyDurationMs) return [];
  return [warn('VERIFY_TOO_SLOW', `The restore test took ${formatDuration(ms)}, more than max_verify_duration ${formatDuration(t.maxVerifyDurationMs)}.`, 'A real recovery would take at least this long: plan for it, or raise max_verify_duration.')];
}
