// `undrop lab up|incident|status|down|drill|score`: options and help; what
// each does is imported when it runs (actions/lab.ts).
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_LAB_DIR } from '../../lab/layout.js';
import { DEFAULT_SCALE } from '../../lab/scale.js';
import { listScenarios } from '../../lab/scenario-names.js';
import type { Context } from '../context.js';
import type { LabBuildFlags, LabDirFlags, LabDrillFlags } from '../actions/lab.js';
import type { RegisterCommand } from './register.js';

function parseIntArg(v: string): number {
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n)) throw new InvalidArgumentError('expected a whole number');
  return n;
}

const actions = () => import('../actions/lab.js');

export const registerLab: RegisterCommand = (program, ctx: () => Context) => {
  const lab = program.command('lab').description('the local training lab: a busy primary and every kind of recovery source, and an incident to recover from');
  const dirOpt = (c: Command) => c.option('--dir <dir>', `lab folder (default ${DEFAULT_LAB_DIR})`, DEFAULT_LAB_DIR);
  const buildOpts = (c: Command) =>
    c
      .option('--scenario <name>', `failure scenario: ${listScenarios().join(', ') || 'see playbooks/scenarios'}`, 'happy')
      .option('--scale <n>', `number of shipments (events 1.5×, invoices 0.5×; default ${DEFAULT_SCALE})`, parseIntArg)
      .option('--delay <interval>', "replica's recovery_min_apply_delay (default from the scenario, usually 10min)")
      .option('--tcp', 'also listen on 127.0.0.1 (Unix sockets only by default)');

  buildOpts(dirOpt(lab.command('up').description('build the lab: primary, data, workload, backups, replica, snapshots, dumps, inventory'))).action(async (o: LabBuildFlags) => {
    const c = ctx();
    await (await actions()).runLabUp(c, o);
  });

  dirOpt(lab.command('incident').description('run the bad migration (drop and recreate three tables) and write truth.json')).action(async (o: LabDirFlags) => {
    const c = ctx();
    await (await actions()).runLabIncident(c, o);
  });

  dirOpt(lab.command('status').description("each component's process, port, size and health")).action(async (o: LabDirFlags) => {
    const c = ctx();
    await (await actions()).runLabStatus(c, o);
  });

  dirOpt(lab.command('down').description('stop every process of the lab and remove its folder')).action(async (o: LabDirFlags) => {
    const c = ctx();
    await (await actions()).runLabDown(c, o);
  });

  buildOpts(dirOpt(lab.command('drill').description('a full drill: lab up, the incident, probe, locate, recover into a side schema, score against truth.json, then lab down (unless --keep-lab); --guided: a tabletop, the team recovers')))
    .option('--keep-lab', 'leave the lab running at the end')
    .option('--guided', 'tabletop: build the lab, run the incident, start the clock and print the briefings; the team recovers (undrop, or the runbooks by hand), then runs lab score')
    .action(async (o: LabDrillFlags) => {
      const c = ctx();
      await (await actions()).runLabDrill(c, o);
    });

  dirOpt(lab.command('score').description("the drill's scorecard: rows back and lost per table, times, source used vs best, mistakes (also written to scorecard.md and scorecard.json)")).action(async (o: LabDirFlags) => {
    const c = ctx();
    await (await actions()).runLabScore(c, o);
  });
};
