// The tabletop's clock and briefing: `lab drill --guided` writes drill.json
// (when the clock started, the incident, the scenario's briefings) into the
// lab folder; `lab score` writes scorecard.md and scorecard.json beside it.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { scorecardMarkdownText } from './score-text.js';
import { labScore, type Scorecard } from './score.js';
import { loadScenario } from './scenarios.js';
import { labLayout } from './layout.js';
import { playbookStep } from '../playbooks/load.js';
import { BRIEFING_STEPS } from '../playbooks/refs.js';
import type { Truth } from './incident.js';

export interface Briefing {
  scenario: string;
  title: string;
  clockStartedAt: string;
  incidentAt: string | null;
  briefing: string;
  facilitator: string | null;
  inventory: string;
  /** The incident runbook's order of work (playbook steps by reference). */
  orderOfWork: { ref: string; title: string }[];
  /** What the team runs: the guided flow, the runbooks by hand, and the score at the end. */
  commands: { guided: string; byHand: string; score: string; down: string };
}

export async function startClock(dir: string): Promise<Briefing> {
  const layout = labLayout(dir);
  const truth = JSON.parse(readFileSync(layout.truthFile, 'utf8')) as Truth;
  const scenario = loadScenario(truth.scenario);
  const cfg = layout.inventoryFile;
  const b: Briefing = {
    scenario: scenario.name,
    title: scenario.title,
    clockStartedAt: new Date().toISOString(),
    incidentAt: truth.incident.commitTime,
    briefing: scenario.briefing.trim(),
    facilitator: scenario.facilitator?.trim() ?? null,
    inventory: cfg,
    orderOfWork: BRIEFING_STEPS.map((ref) => ({ ref, title: playbookStep(ref).title })),
    commands: {
      guided: `undrop -c ${cfg}`,
      byHand: `undrop -c ${cfg} playbook incident   (then: undrop -c ${cfg} playbook KIND --target xid:N)`,
      score: `undrop lab score --dir ${layout.dir}`,
      down: `undrop lab down --dir ${layout.dir}`,
    },
  };
  await writeFile(join(layout.dir, 'drill.json'), JSON.stringify(b, null, 2) + '\n');
  return b;
}

/** Score the lab and keep the card beside truth.json (Markdown and JSON). */
export async function writeScorecard(dir: string): Promise<Scorecard> {
  const layout = labLayout(dir);
  const card = await labScore({ dir: layout.dir });
  await writeFile(join(layout.dir, 'scorecard.json'), JSON.stringify(card, null, 2) + '\n');
  await writeFile(join(layout.dir, 'scorecard.md'), scorecardMarkdownText(card));
  return card;
}
