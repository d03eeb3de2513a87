// `undrop probe`: probe every source in parallel, rank them, print the
// health report (or the contract's JSON document). Exit 0 when at least one
// source is usable, 1 when none, 3 under --strict when any is not healthy.
import { EXIT, usageError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import { parseTableList } from '../../postgres/identifiers.js';
import { resolveConnParams } from '../../postgres/conninfo.js';
import { type CollisionHint, probeCollisionHints } from '../../recovery/collision-hints.js';
import { type ResolvedTarget, type TargetFlags, parseTargetTime, resolveExplicit, targetFromFlags as specFromFlags } from '../../sources/target.js';
import { type ProbeReport, probeAll } from '../../sources/probe-all.js';
import { rankResults, unusableReason } from '../../sources/rank.js';
import { formatDuration } from '../../util/time.js';
import type { ProbeDocument } from '../../contract.js';
import type { Context } from '../context.js';
import { note, printJson, say } from '../output.js';
import { humanReport, replicaBanner } from '../render/probe.js';
import { parallelProgress } from '../render/progress.js';

export interface ProbeFlags extends TargetFlags {
  strict?: boolean;
  deep?: boolean;
  tables?: string;
  incidentTime?: string;
  source?: string[];
}

export function targetFromFlags(f: Pick<ProbeFlags, 'incidentTime' | keyof TargetFlags>): ResolvedTarget | undefined {
  if (f.incidentTime) return { kind: 'time', time: parseTargetTime(f.incidentTime, '--incident-time'), inclusive: false, origin: '--incident-time' };
  const spec = specFromFlags(f);
  return spec.kind === 'before-incident' ? undefined : resolveExplicit(spec);
}

/** The contract's probe document (plus extra fields). */
export function probeDocument(report: ProbeReport, collisionHints: CollisionHint[] = []): ProbeDocument {
  return {
    sources: rankResults(report.sources).map((r) => ({
      name: r.name,
      kind: r.kind,
      status: r.status,
      recoveryPoint: r.recoveryPoint ? { time: r.recoveryPoint.time, lsn: r.recoveryPoint.lsn, ...(r.recoveryPoint.xid ? { xid: r.recoveryPoint.xid } : {}), ...(r.recoveryPoint.basis ? { basis: r.recoveryPoint.basis } : {}) } : null,
      tables: r.tables,
      findings: r.findings,
      reason: unusableReason(r),
      lossWindowMs: r.lossWindowMs ?? null,
      timeLeftMs: r.timeLeftMs ?? null,
      estimatedMaterializeMs: r.estimatedMaterializeMs ?? null,
      items: r.items ?? [],
      durationMs: r.durationMs,
    })),
    ranking: report.ranking,
    production: report.production,
    target: report.target,
    collisionHints,
    durationMs: report.durationMs,
  };
}

export function exitCodeFor(report: ProbeReport, strict: boolean): number {
  if (!report.sources.some((s) => s.status !== 'unusable')) return EXIT.failed;
  if (strict && report.sources.some((s) => s.status !== 'usable')) return EXIT.unhealthy;
  return EXIT.ok;
}

/** `undrop probe`: probe, rank, print; the exit code says whether any source is usable. */
export async function runProbe(c: Context, flags: ProbeFlags): Promise<void> {
  // Flags first: a bad target is the user's typo, whatever the inventory says.
  const target = targetFromFlags(flags);
  const tables = flags.tables ? parseTableList(flags.tables) : [];
  const inv = await loadInventory(c.configFlag);
  const only = (flags.source ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  for (const n of only) {
    if (!inv.sources.some((s) => s.name === n)) throw usageError('SOURCE_UNKNOWN', `No source named "${n}" in ${inv.file}.`, `Sources: ${inv.sources.map((s) => s.name).join(', ') || '(none)'}.`);
  }
  if (inv.sources.length === 0) throw usageError('NO_SOURCES', `${inv.file} lists no sources.`, 'Add sources to undrop.yaml (see DESIGN.md).');
  const names = only.length ? only : inv.sources.map((s) => s.name);
  const tty = !!process.stderr.isTTY && !c.json;
  const progress = await parallelProgress(names, tty);
  const report = await probeAll(inv, {
    tables,
    target,
    deep: !!flags.deep,
    only: only.length ? only : undefined,
    onDone: (s, r) => {
      progress.done(s.name, `${r.status} (${formatDuration(r.durationMs)})`, r.status !== 'unusable');
      // The replica's time left cannot wait for the slowest backup's probe.
      const banner = replicaBanner(r);
      if (banner && !c.json) progress.note(banner);
    },
  }).finally(() => progress.stop());
  // Only a hint: a failure to read the live tables never fails the probe.
  const hints = tables.length && report.production.reachable ? await probeCollisionHints(resolveConnParams(inv.production.dsn), tables, report.sources).catch(() => []) : [];
  if (c.json) printJson(probeDocument(report, hints));
  else {
    for (const l of humanReport(report)) say(l);
    for (const h of hints) say(`Warning: ${h.message}`);
  }
  if (!c.json && !tty) note(`probe finished in ${formatDuration(report.durationMs)}`);
  process.exitCode = exitCodeFor(report, !!flags.strict);
}
