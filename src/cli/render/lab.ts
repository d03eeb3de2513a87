// The lab's human output: what was built, the incident, status, removal,
// and a drill's whole story with its score.
import type { DrillScore } from '../../lab/drill-recovery.js';
import type { DrillResult } from '../../lab/drill.js';
import type { Briefing } from '../../lab/drill-clock.js';
import type { Scorecard } from '../../lab/score.js';
import { scorecardMarkdownText } from '../../lab/score-text.js';
import type { DownResult } from '../../lab/down.js';
import type { Truth } from '../../lab/incident.js';
import { labDsn } from '../../lab/inventory.js';
import type { Scenario } from '../../lab/scenarios.js';
import type { LabState } from '../../lab/state.js';
import type { LabStatus } from '../../lab/status.js';
import type { LocateResult } from '../../recovery/locate/index.js';
import type { RecoverDocument } from '../../recovery/recover-checklist.js';
import type { ProbeReport } from '../../sources/probe-all.js';
import { formatBytes, formatDuration } from '../../util/time.js';
import { say } from '../output.js';
import { printLocate } from './locate.js';
import { humanReport } from './probe.js';
import { humanSummary } from './recover.js';

function q(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export function printUp(state: LabState, scenario: Scenario, durationMs: number): void {
  const dirArg = q(state.dir);
  say(`Lab "${scenario.name}" is up in ${state.dir} (built in ${formatDuration(durationMs)}).`);
  say('');
  const p = state.primary!;
  say(`  production   psql "${labDsn(state.socketDir, p.port, p.superuser)}"`);
  say(`               data checksums on, wal_level replica${state.archive ? `, archiving to ${state.archive}` : ', no WAL archive'}${state.tcp ? ', also on 127.0.0.1' : ', Unix socket only'}`);
  if (state.workload) say(`  workload     pgbench pid ${state.workload.pid}, ${state.workload.rate} transactions/s (log ${state.workload.log})`);
  if (state.replica) say(`  replica      port ${state.replica.port}, slot ${state.replica.slot}, recovery_min_apply_delay ${state.replica.delay}`);
  for (const b of state.baseBackups) say(`  base backup  ${b.path} (${b.format === 'tar' ? 'tar + gzip' : 'plain'}, with manifest)`);
  if (state.pgbackrest) say(`  pgbackrest   stanza ${state.pgbackrest.stanza}, config ${state.pgbackrest.config}, ${state.pgbackrest.backups.length} full backup(s)`);
  if (state.barman) say(`  barman       server ${state.barman.server}, config ${state.barman.config}, ${state.barman.backups.length} backup(s), WAL streamed through a replication slot`);
  for (const s of state.snapshots) say(`  snapshot     ${s.path} (the primary was stopped with -m immediate, copied and restarted: a crash-consistent copy)`);
  for (const d of [...state.dumps].sort((a, b) => a.labelledAt.localeCompare(b.labelledAt))) say(`  dump         ${d.path}`);
  say(`  inventory    ${state.dir}/undrop.yaml`);
  say('');
  say(`Scenario: ${scenario.title}`);
  for (const line of scenario.briefing.trimEnd().split('\n')) say(`  ${line}`);
  say('');
  say(`Next: undrop lab incident --dir ${dirArg}`);
}

export function printIncident(truth: Truth, truthFile: string, dir: string): void {
  const i = truth.incident;
  say(`The incident happened: transaction ${i.xid} dropped and recreated ${truth.tables.join(', ')}.`);
  say(`  commit LSN ${i.commitLsn ?? '?'}, first record ${i.firstLsn ?? '?'}, commit time ${i.commitTime ?? '?'}${i.walFile ? `, in segment ${i.walFile}` : ''}`);
  for (const [t, v] of Object.entries(truth.beforeIncident.tables)) say(`  ${t.padEnd(24)} ${String(v.rows).padStart(10)} rows lost`);
  say('  The workload keeps writing into the recreated tables.');
  say(`Ground truth: ${truthFile} (for scoring; don't peek during the drill).`);
  say('');
  say(`Next: undrop -c ${q(dir)}/undrop.yaml probe`);
}

export function printStatus(s: LabStatus): void {
  say(`Lab in ${s.dir}: scenario ${s.scenario}, ${s.state === 'incident' ? `incident at ${s.incidentAt}` : `state ${s.state}`}; ${s.healthy ? 'healthy' : 'NOT healthy'}.`);
  const rows = s.components.map((c) => [c.healthy ? 'ok ' : 'BAD', c.name, c.pid ? `pid ${c.pid}` : '', c.port ? `port ${c.port}` : '', c.sizeBytes !== null ? formatBytes(c.sizeBytes) : '', c.detail || c.path || '']);
  const w = [3, 18, 11, 10, 8];
  for (const r of rows) say(`  ${r.slice(0, 5).map((x, i) => x.padEnd(w[i]!)).join(' ')} ${r[5]}`);
  say(`  sockets in ${s.socketDir}; inventory ${s.inventory}${s.truth ? `; truth ${s.truth}` : ''}`);
  if (s.defects.length) say(`  ${s.defects.length} defect(s) planted by the scenario (listed in lab.json for the facilitator).`);
}

export function printDown(r: DownResult): void {
  if (!r.existed) {
    say(`No lab in ${r.dir}; nothing to do.`);
    return;
  }
  for (const p of r.stopped) say(`  stopped ${p.what} (pid ${p.pid}, ${p.how})`);
  say(`Lab removed: ${r.removed.join(', ')}.`);
}

/** The drill, step by step, then the score. */
export function printDrill(r: DrillResult): void {
  const up = r.results.up as { state: LabState; scenario: Scenario; durationMs: number } | undefined;
  if (up) printUp(up.state, up.scenario, up.durationMs);
  const inc = r.results.incident as { truth: Truth; truthFile: string } | undefined;
  if (inc) {
    say('');
    printIncident(inc.truth, inc.truthFile, r.dir);
  }
  const st = r.results.status as LabStatus | undefined;
  if (st) {
    say('');
    printStatus(st);
  }
  const probe = r.results.probe as ProbeReport | undefined;
  if (probe) {
    say('');
    say('Probe (newest recovery point first):');
    for (const l of humanReport(probe)) say(l);
  }
  const loc = r.results.locate as LocateResult | undefined;
  if (loc) {
    say('');
    printLocate(loc);
  }
  const rec = r.results.recover as RecoverDocument | undefined;
  if (rec) for (const l of humanSummary(rec)) say(l);
  const brief = r.results.briefing as Briefing | undefined;
  if (brief) printBriefing(brief);
  const score = r.results.score as (DrillScore & { scorecard?: Scorecard }) | undefined;
  if (score) {
    say('');
    say(score.exact ? `Score: every lost row is back (source ${score.source}); checksums equal truth.json.` : `Score: ${score.rowsMissing} rows of the pre-incident state are missing (source ${score.source}).`);
    for (const t of score.tables) say(`  ${t.name.padEnd(28)} ${String(t.recoveredRows).padStart(9)} / ${String(t.expectedRows).padStart(9)} rows  ${t.checksumEqual ? 'checksum equal' : 'checksum differs'}`);
  }
  if (score?.scorecard) {
    say('');
    say(scorecardMarkdownText(score.scorecard));
  }
  say('');
  say(`Drill finished in ${formatDuration(r.durationMs)}: ${r.steps.map((s) => `${s.id} ${formatDuration(s.durationMs)}`).join(', ')}.`);
  if (r.kept) say(`The lab is still running in ${r.dir}; remove it with: undrop lab down --dir ${q(r.dir)}`);
  else if (r.results.down) say('The lab was removed (lab down).');
}

function printBriefing(b: Briefing): void {
  say('');
  say(`The clock started at ${b.clockStartedAt} (incident at ${b.incidentAt ?? 'unknown'}).`);
  if (b.facilitator) {
    say('');
    say('For the facilitator only:');
    for (const l of b.facilitator.split('\n')) say(`  ${l}`);
  }
  say('');
  say(`For the team: ${b.title}`);
  for (const l of b.briefing.split('\n')) say(`  ${l}`);
  say('');
  say('The order of work (undrop playbook incident):');
  b.orderOfWork.forEach((s, i) => say(`  ${i + 1}. ${s.title}`));
  say('');
  say(`Recover with the guided flow:  ${b.commands.guided}`);
  say(`or by hand, with the runbooks: ${b.commands.byHand}`);
  say(`When done, score it:           ${b.commands.score}`);
  say(`Remove the lab afterwards:     ${b.commands.down}`);
}
