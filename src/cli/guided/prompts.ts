// Every question undrop asks, as the configuration of an @inquirer prompt
// (built by pure functions, so unit tests drive each one with
// @inquirer/testing). The flag that answers it without asking is named in
// the question.
import type { LocatedEvent } from '../../recovery/locate/index.js';
import type { MergePreviewTable } from '../../recovery/promote-merge.js';
import type { OnConflict } from '../../recovery/merge-conflicts.js';
import type { ProbeReport } from '../../sources/probe-all.js';
import { formatDuration } from '../../util/time.js';
import { kindLabel, relList, rowsText, shortTime } from '../render/locate.js';

export const FOLD = 'unnamed' as const;

/** "4 min ago", "2 h 3 min ago". Pure. */
export function ago(iso: string, now: number): string {
  const ms = now - Date.parse(iso);
  return ms < 0 ? 'in the future' : ms < 60_000 ? `${Math.round(ms / 1000)} s ago` : `${formatDuration(ms).replace(/ \d+ s$/, '')} ago`;
}

/** One event: what, which tables, rows lost, when (and how long ago), xid. Pure. */
export function eventLine(e: LocatedEvent, now: number): string {
  return `${kindLabel(e)} ${relList(e) || '(whole database)'} — ${rowsText(e)} — ${shortTime(e.commitTime)} (${ago(e.commitTime, now)}) — xid ${e.xid}`;
}

interface Choice<T> {
  value: T;
  name: string;
  description?: string;
  disabled?: boolean | string;
}

/**
 * The event picker: named events first (the best candidate preselected),
 * unnamed ones folded under one line that says why, and undrop's own side
 * schema drops shown apart as housekeeping (not selectable). Pure.
 */
export function eventPrompt(events: readonly LocatedEvent[], undrop: readonly LocatedEvent[], now: number) {
  const named = events.filter((e) => !e.unnamedReason);
  const unnamed = events.filter((e) => e.unnamedReason);
  const reasons = [...new Set(unnamed.map((e) => e.unnamedReason!))].join('; ');
  const choices: Choice<LocatedEvent | typeof FOLD>[] = [
    ...named.map((e, i) => ({ value: e as LocatedEvent | typeof FOLD, name: `${eventLine(e, now)}${i === 0 ? '  [most likely]' : ''}`, description: e.recreated.length ? 'Dropped and recreated in the same transaction: rows written since may reuse lost keys (merge will show collisions).' : undefined })),
    ...(unnamed.length ? [{ value: FOLD as LocatedEvent | typeof FOLD, name: `${unnamed.length} more without table names (${reasons}) …` }] : []),
    ...undrop.map((e) => ({ value: e as LocatedEvent | typeof FOLD, name: `${kindLabel(e)} ${relList(e)} — ${shortTime(e.commitTime)}`, disabled: "undrop's own side schema (housekeeping, not an incident)" })),
  ];
  return {
    message: 'What was lost? Pick the destructive transaction to undo (--tables and --target name it without asking)',
    choices,
    default: named[0] ?? unnamed[0],
    pageSize: 12,
  };
}

export function unnamedPrompt(unnamed: readonly LocatedEvent[], now: number) {
  return { message: 'Transactions whose files no catalog could name (recover then needs their tables named with --tables):', choices: unnamed.map((e) => ({ value: e, name: eventLine(e, now) })) };
}

/** The source picker: ranked, best preselected, unusable ones shown with why and not selectable. Pure. */
export function sourcePrompt(report: ProbeReport, best: string) {
  return {
    message: 'Recover from which source? (--source names it without asking)',
    default: best,
    pageSize: 12,
    choices: report.ranking.map((name): Choice<string> => {
      const r = report.sources.find((s) => s.name === name)!;
      const why = r.findings.find((f) => f.level === 'error')?.message;
      const loss = r.lossWindowMs != null ? `, loses ${formatDuration(r.lossWindowMs)}` : '';
      const eta = r.estimatedMaterializeMs ? `, ~${formatDuration(r.estimatedMaterializeMs)} to extract` : '';
      return {
        value: name,
        name: `${name} (${r.kind}) — ${r.status}, recovery point ${r.recoveryPoint?.time ? shortTime(r.recoveryPoint.time) : 'unknown'}${loss}${eta}${name === best ? '  [best]' : ''}`,
        disabled: r.status === 'unusable' ? `unusable: ${why ?? 'see undrop probe'}` : false,
      };
    }),
  };
}

export function onConflictPrompt(collisions: number) {
  return {
    message: `Merge meets ${collisions} collision(s): live rows written since the incident hold the keys of recovered rows. What should happen? (--on-conflict)`,
    default: 'fail' as OnConflict,
    choices: [
      { value: 'rekey-live' as OnConflict, name: 'rekey-live: give the post-incident live rows new keys, bring every recovered row back under its original key' },
      { value: 'keep-live' as OnConflict, name: 'keep-live: the live rows win; the recovered ones stay in the side schema (<table>__conflicts)' },
      { value: 'fail' as OnConflict, name: 'fail: change nothing live (exit 1); the pairs go to <table>__conflicts to read; decide later with undrop promote' },
    ],
  };
}

export type PromoteChoice = 'side-schema' | 'merge' | 'replace';

type LiveVsRecovered = { name: string; liveRows: number | null; recoveredRows: number };

/** What merge and replace would each do, one line per table, shown above the last question. Pure. */
export function promoteTableLines(merge: readonly MergePreviewTable[], live: readonly LiveVsRecovered[]): string[] {
  const n = (v: number | null) => (v === null ? '—' : v.toLocaleString('en-US'));
  const w = Math.max(24, ...live.map((t) => t.name.length));
  const lines = [`  ${'TABLE'.padEnd(w)}  ${'LIVE NOW'.padStart(10)}  ${'RECOVERED'.padStart(10)}  ${'MERGE INSERTS'.padStart(13)}  ${'COLLISIONS'.padStart(10)}`];
  for (const t of live) {
    const m = merge.find((x) => x.name === t.name);
    lines.push(`  ${t.name.padEnd(w)}  ${n(t.liveRows).padStart(10)}  ${n(t.recoveredRows).padStart(10)}  ${(m?.refused ? 'refused' : n(m?.missing ?? null)).padStart(13)}  ${(m?.refused ? '' : n(m?.conflicts ?? null)).padStart(10)}${m?.refused ? `  (${m.refused})` : ''}`);
  }
  return lines;
}

/** The last question: the live tables (the table above says what each choice does). Pure. */
export function promotePrompt(schema: string, merge: readonly MergePreviewTable[]) {
  const collisions = merge.reduce((a, p) => a + p.conflicts, 0);
  return {
    message: `The recovered tables are verified in ${schema}. Bring them into the live tables? (undrop promote --schema ${schema} --mode …)`,
    default: 'side-schema' as PromoteChoice,
    choices: [
      { value: 'side-schema' as PromoteChoice, name: 'not now: leave them in the side schema to compare (nothing live changes)' },
      {
        value: 'merge' as PromoteChoice,
        name: `merge: insert the recovered rows missing from the live tables, by primary key${collisions ? ` (${collisions.toLocaleString('en-US')} collisions: you choose how next)` : ''}`,
        disabled: merge.length > 0 && merge.every((p) => p.refused) ? 'no table can be merged' : false,
      },
      { value: 'replace' as PromoteChoice, name: 'replace: rename the live tables aside (never dropped) and move the recovered ones in (rows written since leave the live tables)' },
    ],
  };
}

export function confirmPrompt(message: string) {
  return { message, default: false };
}

/** The inventory wizard's first question. */
export function dsnPrompt() {
  return {
    message: 'Production database to recover into (a DSN: postgresql://user@host:5432/db, or host=… dbname=…; the password may stay in ~/.pgpass)',
    validate: (v: string) => (v.trim() ? true : 'A DSN is needed (the password may stay in ~/.pgpass or PGPASSWORD).'),
  };
}

export function sourceFoundPrompt(description: string) {
  return { message: `Found ${description}. Add it as a recovery source?`, default: true };
}
