// `undrop lab up|incident|status|down|drill|score` (registered in
// commands/lab.ts): the training lab.
import { labLayout } from '../../lab/layout.js';
import { labUp } from '../../lab/up.js';
import { labIncident } from '../../lab/incident.js';
import { labStatus } from '../../lab/status.js';
import { labDown } from '../../lab/down.js';
import { runDrill } from '../../lab/drill.js';
import { writeScorecard } from '../../lab/drill-clock.js';
import { scorecardMarkdownText } from '../../lab/score-text.js';
import type { Context } from '../context.js';
import { printJson, say } from '../output.js';
import { printDown, printDrill, printIncident, printStatus, printUp } from '../render/lab.js';
import { labProgress } from '../render/progress.js';

export interface LabDirFlags {
  dir: string;
}

export interface LabBuildFlags extends LabDirFlags {
  scenario: string;
  scale?: number;
  delay?: string;
  tcp?: boolean;
}

export interface LabDrillFlags extends LabBuildFlags {
  keepLab?: boolean;
  guided?: boolean;
}

export async function runLabUp(c: Context, o: LabBuildFlags): Promise<void> {
  const r = await labUp({ ...o, progress: await labProgress() });
  if (c.json) printJson({ dir: r.state.dir, scenario: r.scenario.name, title: r.scenario.title, durationMs: r.durationMs, notes: r.notes, inventory: `${r.state.dir}/undrop.yaml`, state: r.state, next: `undrop lab incident --dir ${r.state.dir}` });
  else printUp(r.state, r.scenario, r.durationMs);
}

export async function runLabIncident(c: Context, o: LabDirFlags): Promise<void> {
  const r = await labIncident({ dir: o.dir, progress: await labProgress() });
  if (c.json) printJson({ truthFile: r.truthFile, ...r.truth });
  else printIncident(r.truth, r.truthFile, labLayout(o.dir).dir);
}

export async function runLabStatus(c: Context, o: LabDirFlags): Promise<void> {
  const s = await labStatus({ dir: o.dir });
  if (c.json) printJson(s);
  else printStatus(s);
}

export async function runLabDown(c: Context, o: LabDirFlags): Promise<void> {
  const r = await labDown(labLayout(o.dir));
  if (c.json) printJson(r);
  else printDown(r);
}

export async function runLabDrill(c: Context, o: LabDrillFlags): Promise<void> {
  const progress = await labProgress();
  const r = await runDrill({ ...o, progress });
  if (c.json) {
    printJson(r);
    return;
  }
  printDrill(r);
}

export async function runLabScore(c: Context, o: LabDirFlags): Promise<void> {
  const card = await writeScorecard(o.dir);
  if (c.json) printJson(card);
  else say(scorecardMarkdownText(card));
}
