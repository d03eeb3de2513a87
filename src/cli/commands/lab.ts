// `undrop lab up|incident|status|down|drill`: the training lab.
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_LAB_DIR, labLayout } from '../../lab/layout.js';
import { DEFAULT_SCALE, labUp } from '../../lab/up.js';
import { labIncident } from '../../lab/incident.js';
import { labStatus } from '../../lab/status.js';
import { labDown } from '../../lab/down.js';
import { runDrill } from '../../lab/drill.js';
import { writeScorecard } from '../../lab/drill-clock.js';
import { scorecardMarkdownText } from '../../lab/score-text.js';
import { listScenarios } from '../../lab/scenarios.js';
import type { Context } from '../context.js';
import { printJson, say } from '../output.js';
import { printDown, printDrill, printIncident, printStatus, printUp } from '../render/lab.js';
import { labProgress } from '../render/progress.js';
import type { RegisterCommand } from './register.js';

function parseIntArg(v: string): number {
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n)) throw new InvalidArgumentError('expected a whole number');
  return n;
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
    const r = await labUp({ ...o, progress: labProgress() });
    if (c.json) printJson({ dir: r.state.dir, scenario: r.scenario.name, title: r.scenario.title, durationMs: r.durationMs, notes: r.notes, inventory: `${r.state.dir}/undrop.yaml`, state: r.state, next: `undrop lab incident --dir ${r.state.dir}` });
    else printUp(r.state, r.scenario, r.durationMs);
  });

  dirOpt(lab.command('incident').description('run the bad migration (drop and recreate three tables) and write truth.json')).action(async (o: { dir: string }) => {
    const c = ctx();
    const r = await labIncident({ dir: o.dir, progress: labProgress() });
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

  buildOpts(dirOpt(lab.command('drill').description('a full drill: lab up, the incident, probe, locate, recover into a side schema, score against truth.json, then lab down (unless --keep-lab); --guided: a tabletop, the team recovers')))
    .option('--keep-lab', 'leave the lab running at the end')
    .option('--guided', 'tabletop: build the lab, run the incident, start the clock and print the briefings; the team recovers (undrop, or the runbooks by hand), then runs lab score')
    .action(async (o: { dir: string; scenario: string; scale?: number; delay?: string; tcp?: boolean; keepLab?: boolean; guided?: boolean }) => {
      const c = ctx();
      const progress = labProgress();
      const r = await runDrill({ ...o, progress });
      if (c.json) {
        printJson(r);
        return;
      }
      printDrill(r);
    });

  dirOpt(lab.command('score').description("the drill's scorecard: rows back and lost per table, times, source used vs best, mistakes (also written to scorecard.md and scorecard.json)")).action(async (o: { dir: string }) => {
    const c = ctx();
    const card = await writeScorecard(o.dir);
    if (c.json) printJson(card);
    else say(scorecardMarkdownText(card));
  });
};
