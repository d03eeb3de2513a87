// `undrop lab up|incident|status|down|drill`: the training lab.
import { Command, InvalidArgumentError } from 'commander';
import ora, { type Ora } from 'ora';
import type { RegisterCommand } from './index.js';
import type { Context } from '../context.js';
import { note, printJson, say } from '../output.js';
import { formatBytes, formatDuration } from '../../util/time.js';
import { DEFAULT_LAB_DIR, labLayout } from '../../lab/layout.js';
import type { Progress } from '../../lab/progress.js';
import { DEFAULT_SCALE, labUp } from '../../lab/up.js';
import { labIncident, type Truth } from '../../lab/incident.js';
import { labStatus, type LabStatus } from '../../lab/status.js';
import { labDown, type DownResult } from '../../lab/down.js';
import { runDrill } from '../../lab/drill.js';
import type { DrillScore } from '../../lab/drill-recovery.js';
import type { LocateResult } from '../../recovery/locate/index.js';
import type { RecoverDocument } from '../../recovery/recover-incident.js';
import type { ProbeReport } from '../../sources/probe-all.js';
import { printHuman as printLocate } from './locate.js';
import { humanReport } from './probe.js';
import { humanSummary } from './recover.js';
import { listScenarios, type Scenario } from '../../lab/scenarios.js';
import type { LabState } from '../../lab/state.js';
import { labDsn } from '../../lab/inventory.js';

/** Spinners on stderr; plain lines when stderr is not a terminal. */
function spinnerProgress(): Progress {
  let spinner: Ora | undefined;
  return (e) => {
    switch (e.type) {
      case 'start':
        spinner = ora({ text: e.title, stream: process.stderr, discardStdin: false }).start();
        break;
      case 'done':
        (spinner ?? ora({ stream: process.stderr })).succeed(`${e.title}${e.detail ? ` — ${e.detail}` : ''} (${formatDuration(e.durationMs)})`);
        spinner = undefined;
        break;
      case 'fail':
        (spinner ?? ora({ stream: process.stderr })).fail(e.title);
        spinner = undefined;
        break;
      case 'note':
        note(`note: ${e.text}`);
        break;
    }
  };
}

function parseIntArg(v: string): number {
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n)) throw new InvalidArgumentError('expected a whole number');
  return n;
}

function q(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function printUp(state: LabState, scenario: Scenario, durationMs: number): void {
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
  for (const s of state.snapshots) say(`  snapshot     ${s.path} (the primary was stopped with -m immediate, copied and restarted: a crash-consistent copy)`);
  for (const d of [...state.dumps].sort((a, b) => a.labelledAt.localeCompare(b.labelledAt))) say(`  dump         ${d.path}`);
  say(`  inventory    ${state.dir}/undrop.yaml`);
  say('');
  say(`Scenario: ${scenario.title}`);
  for (const line of scenario.briefing.trimEnd().split('\n')) say(`  ${line}`);
  say('');
  say(`Next: undrop lab incident --dir ${dirArg}`);
}

function printIncident(truth: Truth, truthFile: string, dir: string): void {
  const i = truth.incident;
  say(`The incident happened: transaction ${i.xid} dropped and recreated ${truth.tables.join(', ')}.`);
  say(`  commit LSN ${i.commitLsn ?? '?'}, first record ${i.firstLsn ?? '?'}, commit time ${i.commitTime ?? '?'}${i.walFile ? `, in segment ${i.walFile}` : ''}`);
  for (const [t, v] of Object.entries(truth.beforeIncident.tables)) say(`  ${t.padEnd(24)} ${String(v.rows).padStart(10)} rows lost`);
  say('  The workload keeps writing into the recreated tables.');
  say(`Ground truth: ${truthFile} (for scoring; don't peek during the drill).`);
  say('');
  say(`Next: undrop -c ${q(dir)}/undrop.yaml probe`);
}

function printStatus(s: LabStatus): void {
  say(`Lab in ${s.dir}: scenario ${s.scenario}, ${s.state === 'incident' ? `incident at ${s.incidentAt}` : `state ${s.state}`}; ${s.healthy ? 'healthy' : 'NOT healthy'}.`);
  const rows = s.components.map((c) => [c.healthy ? 'ok ' : 'BAD', c.name, c.pid ? `pid ${c.pid}` : '', c.port ? `port ${c.port}` : '', c.sizeBytes !== null ? formatBytes(c.sizeBytes) : '', c.detail || c.path || '']);
  const w = [3, 18, 11, 10, 8];
  for (const r of rows) say(`  ${r.slice(0, 5).map((x, i) => x.padEnd(w[i]!)).join(' ')} ${r[5]}`);
  say(`  sockets in ${s.socketDir}; inventory ${s.inventory}${s.truth ? `; truth ${s.truth}` : ''}`);
  if (s.defects.length) say(`  ${s.defects.length} defect(s) planted by the scenario (listed in lab.json for the facilitator).`);
}

function printDown(r: DownResult): void {
  if (!r.existed) {
    say(`No lab in ${r.dir}; nothing to do.`);
    return;
  }
  for (const p of r.stopped) say(`  stopped ${p.what} (pid ${p.pid}, ${p.how})`);
  say(`Lab removed: ${r.removed.join(', ')}.`);
}

export const registerLab: RegisterCommand = (program, ctx: () => Context) => {
  const lab = program.command('lab').description('the local training lab: a busy primary and every kind of recovery source, and an incident to recover from');
  const dirOpt = (c: Command) => c.option('--dir <dir>', `lab folder (default ${DEFAULT_LAB_DIR})`, DEFAULT_LAB_DIR);
  const buildOpts = (c: Command) =>
    c
      .option('--scenario <name>', `failure scenario: ${listScenarios().join(', ') || 'see playbooks/scenarios'}`, 'happy')
      .option('--scale <n>', `number of shipments (events 1.5×, invoices 0.5×; default ${DEFAULT_SCALE})`, parseIntArg)
      .option('--delay <interval>', "replica's recovery_min_apply_delay (default from the scenario, usually 10min)")
      .option('--tcp', 'also listen on 127.0.0.1 (Unix sockets only by default)');

  buildOpts(dirOpt(lab.command('up').description('build the lab: primary, data, workload, backups, replica, snapshots, dumps, inventory'))).action(async (o: { dir: string; scenario: string; scale?: number; delay?: string; tcp?: boolean }) => {
    const c = ctx();
    const r = await labUp({ ...o, progress: spinnerProgress() });
    if (c.json) printJson({ dir: r.state.dir, scenario: r.scenario.name, title: r.scenario.title, durationMs: r.durationMs, notes: r.notes, inventory: `${r.state.dir}/undrop.yaml`, state: r.state, next: `undrop lab incident --dir ${r.state.dir}` });
    else printUp(r.state, r.scenario, r.durationMs);
  });

  dirOpt(lab.command('incident').description('run the bad migration (drop and recreate three tables) and write truth.json')).action(async (o: { dir: string }) => {
    const c = ctx();
    const r = await labIncident({ dir: o.dir, progress: spinnerProgress() });
    if (c.json) printJson({ truthFile: r.truthFile, ...r.truth });
    else printIncident(r.truth, r.truthFile, labLayout(o.dir).dir);
  });

  dirOpt(lab.command('status').description("each component's process, port, size and health")).action(async (o: { dir: string }) => {
    const c = ctx();
    const s = await labStatus({ dir: o.dir });
    if (c.json) printJson(s);
    else printStatus(s);
  });

  dirOpt(lab.command('down').description('stop every process of the lab and remove its folder')).action(async (o: { dir: string }) => {
    const c = ctx();
    const r = await labDown(labLayout(o.dir));
    if (c.json) printJson(r);
    else printDown(r);
  });

  buildOpts(dirOpt(lab.command('drill').description('a full drill: lab up, the incident, probe, locate, recover into a side schema, score against truth.json, then lab down (unless --keep-lab)')))
    .option('--keep-lab', 'leave the lab running at the end')
    .action(async (o: { dir: string; scenario: string; scale?: number; delay?: string; tcp?: boolean; keepLab?: boolean }) => {
      const c = ctx();
      const progress = spinnerProgress();
      const r = await runDrill({ ...o, progress });
      if (c.json) {
        printJson(r);
        return;
      }
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
      const score = r.results.score as DrillScore | undefined;
      if (score) {
        say('');
        say(score.exact ? `Score: every lost row is back (source ${score.source}); checksums equal truth.json.` : `Score: ${score.rowsMissing} rows of the pre-incident state are missing (source ${score.source}).`);
        for (const t of score.tables) say(`  ${t.name.padEnd(28)} ${String(t.recoveredRows).padStart(9)} / ${String(t.expectedRows).padStart(9)} rows  ${t.checksumEqual ? 'checksum equal' : 'checksum differs'}`);
      }
      say('');
      say(`Drill finished in ${formatDuration(r.durationMs)}: ${r.steps.map((s) => `${s.id} ${formatDuration(s.durationMs)}`).join(', ')}.`);
      if (r.kept) say(`The lab is still running in ${r.dir}; remove it with: undrop lab down --dir ${q(r.dir)}`);
      else if (r.results.down) say('The lab was removed (lab down).');
    });
};
