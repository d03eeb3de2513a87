// `undrop probe`: probe every source in parallel, rank them, print the
// health report (or the contract's JSON document). Exit 0 when at least one
// source is usable, 1 when none, 3 under --strict when any is not healthy.
import { Listr, ProcessOutput } from 'listr2';
import type { Command } from 'commander';
import { EXIT, usageError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import { parseTableList } from '../../postgres/identifiers.js';
import { type ResolvedTarget, type TargetFlags, parseTargetTime, resolveExplicit, targetFromFlags as specFromFlags } from '../../recovery/target.js';
import { type ProbeReport, probeAll } from '../../sources/probe-all.js';
import { rankResults, unusableReason } from '../../sources/rank.js';
import type { ProbeItem, ProbeResult, RecoveryPoint } from '../../sources/types.js';
import { formatBytes, formatDuration } from '../../util/time.js';
import type { Context } from '../context.js';
import { note, printJson, say } from '../output.js';
import type { RegisterCommand } from './index.js';

interface ProbeFlags extends TargetFlags {
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
export function probeDocument(report: ProbeReport): Record<string, unknown> {
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
    durationMs: report.durationMs,
  };
}

export function exitCodeFor(report: ProbeReport, strict: boolean): number {
  if (!report.sources.some((s) => s.status !== 'unusable')) return EXIT.failed;
  if (strict && report.sources.some((s) => s.status !== 'usable')) return EXIT.unhealthy;
  return EXIT.ok;
}

function showPoint(p: RecoveryPoint | null): string {
  if (!p) return '—';
  const time = p.time ? p.time.replace('T', ' ').replace(/\.\d+Z$|Z$/, 'Z') : 'time unknown';
  return `${time}${p.lsn ? ` @ ${p.lsn}` : ''}`;
}

const STATUS_MARK: Record<string, string> = { usable: 'usable', degraded: 'DEGRADED', unusable: 'UNUSABLE' };

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function itemLine(it: ProbeItem): string {
  const why = it.status === 'unusable' ? it.findings.find((f) => f.level === 'error')?.message : it.findings.find((f) => f.level === 'warn')?.message;
  return `      ${pad(STATUS_MARK[it.status]!, 9)} ${pad(it.label, 28)} ${pad(showPoint(it.recoveryPoint), 44)}${it.sizeBytes !== undefined ? ` ${formatBytes(it.sizeBytes)}` : ''}${why ? `  — ${why}` : ''}`;
}

/** The human report: loud time-left first, then the ranked table, then warnings and errors. */
export function humanReport(report: ProbeReport): string[] {
  const lines: string[] = [];
  const ranked = rankResults(report.sources);
  for (const r of ranked) {
    if (r.kind === 'delayed-replica' && r.timeLeftMs !== null && r.timeLeftMs !== undefined) {
      lines.push(`!!! ${r.name}: ${formatDuration(Math.max(0, r.timeLeftMs))} LEFT before this replica replays the incident. Pause it now (undrop recover --source ${r.name} pauses first). !!!`, '');
    }
  }
  if (report.target) lines.push(`Target: ${report.target.time ?? report.target.commitLsn ?? report.target.xid ?? report.target.kind} (${report.target.origin})`);
  if (!report.production.reachable) lines.push(`Production not reached (${report.production.error}): system identifiers not compared.`);
  lines.push('');
  lines.push(`  #  ${pad('SOURCE', 18)} ${pad('KIND', 16)} ${pad('STATUS', 9)} ${pad('RECOVERY POINT', 44)} LOSS`);
  ranked.forEach((r, i) => {
    const loss = r.lossWindowMs === null || r.lossWindowMs === undefined ? '' : formatDuration(r.lossWindowMs);
    const reason = unusableReason(r);
    lines.push(`${pad(String(i + 1), 3)}  ${pad(r.name, 18)} ${pad(r.kind, 16)} ${pad(STATUS_MARK[r.status]!, 9)} ${pad(showPoint(r.recoveryPoint), 44)} ${loss}`);
    if (r.recoveryPoint?.basis) lines.push(`      (${r.recoveryPoint.basis})`);
    if (reason) lines.push(`      reason: ${reason}`);
    if (r.items && r.items.length > 1) for (const it of r.items) lines.push(itemLine(it));
    if (r.tables.length) {
      lines.push(`      tables: ${r.tables.map((t) => `${t.name}${t.present ? (t.rows !== null ? ` ${t.rowsKind === 'estimate' ? '~' : ''}${t.rows}` : '') : ' MISSING'}`).join(', ')}`);
    }
  });
  const problems = ranked.flatMap((r) => r.findings.filter((f) => f.level !== 'info').map((f) => ({ r, f })));
  if (problems.length) {
    lines.push('', 'Findings:');
    for (const { r, f } of problems) {
      lines.push(`  ${f.level === 'error' ? 'ERROR' : 'WARN '} ${r.name} [${f.code}] ${f.message}`);
      if (f.hint) lines.push(`        hint: ${f.hint}`);
    }
  }
  const usable = ranked.filter((r) => r.status !== 'unusable');
  lines.push('', usable.length ? `Best source: ${usable[0]!.name}. Probed ${report.sources.length} source(s) in ${formatDuration(report.durationMs)}.` : 'No usable source.');
  return lines;
}

export const registerProbe: RegisterCommand = (program: Command, ctx: () => Context) => {
  program
    .command('probe')
    .description('Probe every recovery source (read-only) and rank them: usable or not and why, recovery point, loss window.')
    .option('--strict', 'exit 3 when any source is degraded or unusable (for cron and monitoring)')
    .option('--deep', 'read whole dumps, extract and verify tar backups, run pgbackrest verify (slower)')
    .option('--tables <list>', 'tables to look for (comma-separated, schema-qualified or not)')
    .option('--incident-time <time>', 'when the incident happened (ISO 8601): loss windows and time left are computed against it')
    .option('--target <spec>', 'an exact target instead: xid:N, lsn:X/Y, time:ISO-8601 with zone, name:RESTORE_POINT')
    .option('--target-xid <xid>', 'same as --target xid:N')
    .option('--target-lsn <lsn>', 'same as --target lsn:X/Y')
    .option('--target-time <time>', 'same as --target time:T (a zone is required)')
    .option('--target-name <name>', 'same as --target name:RESTORE_POINT')
    .option('--target-timeline <tli>', 'timeline to follow (number, latest, current)')
    .option('--source <name...>', 'probe only these sources')
    .action(async (flags: ProbeFlags) => {
      const c = ctx();
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
      const resolvers = new Map<string, (v: string) => void>();
      const waits = new Map<string, Promise<string>>();
      for (const n of names) waits.set(n, new Promise<string>((res) => resolvers.set(n, res)));
      const tty = !!process.stderr.isTTY && !c.json;
      const list = new Listr(
        names.map((n) => ({
          title: `probe ${n}`,
          task: async (_: unknown, task: { title: string }) => {
            task.title = `${n}: ${await waits.get(n)!}`;
          },
        })),
        { concurrent: true, exitOnError: false, renderer: tty ? 'default' : 'silent', rendererOptions: { processOutput: new ProcessOutput(process.stderr, process.stderr) } as never },
      );
      const shown = list.run().catch(() => {});
      const report = await probeAll(inv, {
        tables,
        target,
        deep: !!flags.deep,
        only: only.length ? only : undefined,
        onDone: (s, r) => resolvers.get(s.name)?.(`${r.status} (${formatDuration(r.durationMs)})`),
      });
      await shown;
      if (c.json) printJson(probeDocument(report));
      else for (const l of humanReport(report)) say(l);
      if (!c.json && !tty) note(`probe finished in ${formatDuration(report.durationMs)}`);
      process.exitCode = exitCodeFor(report, !!flags.strict);
    });
};
