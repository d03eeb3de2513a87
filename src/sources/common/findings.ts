// Findings and statuses: small helpers every probe uses.
import type { Finding, FindingLevel, ProbeItem, SourceStatus } from '../types.js';

export function finding(level: FindingLevel, code: string, message: string, hint?: string): Finding {
  return hint === undefined ? { level, code, message } : { level, code, message, hint };
}
export const info = (code: string, message: string, hint?: string) => finding('info', code, message, hint);
export const warn = (code: string, message: string, hint?: string) => finding('warn', code, message, hint);
export const error = (code: string, message: string, hint?: string) => finding('error', code, message, hint);

const RANK: Record<SourceStatus, number> = { usable: 0, degraded: 1, unusable: 2 };

/** error → unusable, warn → degraded, else usable. */
export function statusOf(findings: readonly Finding[]): SourceStatus {
  if (findings.some((f) => f.level === 'error')) return 'unusable';
  if (findings.some((f) => f.level === 'warn')) return 'degraded';
  return 'usable';
}

export function worst(...s: SourceStatus[]): SourceStatus {
  return s.reduce((a, b) => (RANK[b] > RANK[a] ? b : a), 'usable' as SourceStatus);
}

export function statusRank(s: SourceStatus): number {
  return RANK[s];
}

/** An item's findings at source level, prefixed with the item's label so they stay readable. */
export function itemFindings(item: ProbeItem): Finding[] {
  return item.findings.map((f) => ({ ...f, message: `${item.label}: ${f.message}` }));
}

/** First line of an error's text, for messages. */
export function firstLine(text: string, max = 200): string {
  const line = text.split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? '';
  return line.length > max ? `${line.slice(0, max)}…` : line;
}
