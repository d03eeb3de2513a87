// `lab drill`: a tabletop drill as a list of steps (up → incident → status,
// then down unless --keep-lab). Later steps (probe, locate, recover, verify,
// score) are added to DRILL_STEPS; each gets the shared context and returns
// a result that goes into the drill's JSON document.
import type { RecoverDocument } from '../recovery/recover-checklist.js';
import { labDown } from './down.js';
import { drillLocate, drillProbe, drillRecover, drillScore, drillTarget } from './drill-recovery.js';
import type { LocateResult } from '../recovery/locate/index.js';
import type { Truth } from './incident.js';
import { labIncident } from './incident.js';
import { labLayout } from './layout.js';
import { type Progress, silent, step } from './progress.js';
import { labStatus } from './status.js';
import { labUp, type UpOptions } from './up.js';
import { startClock, writeScorecard } from './drill-clock.js';

export interface DrillOptions extends UpOptions {
  keepLab?: boolean;
  /** Tabletop: build the lab, run the incident, start the clock, brief; the team recovers (guided flow or by hand) and runs `lab score`. */
  guided?: boolean;
}

export interface DrillContext {
  options: DrillOptions;
  dir: string;
  progress: Progress;
  /** Results of earlier steps by id. */
  results: Record<string, unknown>;
}

export interface DrillStep {
  id: string;
  title: string;
  run(ctx: DrillContext): Promise<unknown>;
}

export const DRILL_STEPS: DrillStep[] = [
  { id: 'up', title: 'Build the lab', run: (c) => labUp({ ...c.options, dir: c.dir, progress: c.progress }) },
  { id: 'incident', title: 'The incident', run: (c) => labIncident({ dir: c.dir, progress: c.progress }) },
  { id: 'status', title: 'Lab status after the incident', run: (c) => labStatus({ dir: c.dir }) },
  { id: 'probe', title: 'Probe every recovery source', run: (c) => step(c.progress, 'probe', 'Probe every recovery source', () => drillProbe(c.dir), (r) => `best: ${r.ranking[0] ?? 'none'}`) },
  { id: 'locate', title: 'Locate the destructive transaction in WAL', run: (c) => step(c.progress, 'locate', 'Locate the destructive transaction in WAL', () => drillLocate(c.dir), (r) => `${r.events.length} event(s)`) },
  { id: 'recover', title: 'Recover the lost tables into a side schema', run: (c) => step(c.progress, 'recover', 'Recover the lost tables into a side schema (undrop recover --yes)', () => drillRecover(c.dir, c.progress, drillTarget(c.results.locate as LocateResult | undefined)), (r) => `from ${r.source} into ${r.schema}`) },
  {
    id: 'score',
    title: 'Score against the ground truth',
    run: (c) =>
      step(
        c.progress,
        'score',
        'Score against the ground truth (truth.json)',
        async () => ({ ...(await drillScore(c.dir, (c.results.incident as { truth: Truth }).truth, c.results.recover as RecoverDocument)), scorecard: await writeScorecard(c.dir) }),
        (r) => (r.exact ? 'every row back, checksums equal' : `${r.rowsMissing} rows missing`),
      ),
  },
];

/** The tabletop: the lab and its incident, then the clock starts and the team takes over. */
export const GUIDED_STEPS: DrillStep[] = [
  DRILL_STEPS[0]!,
  DRILL_STEPS[1]!,
  DRILL_STEPS[2]!,
  { id: 'briefing', title: 'Start the clock and brief the team', run: (c) => startClock(c.dir) },
];

export interface DrillResult {
  dir: string;
  ok: boolean;
  steps: { id: string; title: string; ok: boolean; durationMs: number; error?: string }[];
  results: Record<string, unknown>;
  kept: boolean;
  durationMs: number;
}

export async function runDrill(o: DrillOptions = {}, steps: DrillStep[] = o.guided ? GUIDED_STEPS : DRILL_STEPS): Promise<DrillResult> {
  // A guided drill hands the lab to the team: it stays up.
  if (o.guided) o = { ...o, keepLab: true };
  const started = Date.now();
  const dir = labLayout(o.dir).dir;
  const ctx: DrillContext = { options: o, dir, progress: o.progress ?? silent, results: {} };
  const out: DrillResult = { dir, ok: true, steps: [], results: ctx.results, kept: !!o.keepLab, durationMs: 0 };
  let failure: unknown;
  try {
    for (const s of steps) {
      const t0 = Date.now();
      try {
        ctx.results[s.id] = await s.run(ctx);
        out.steps.push({ id: s.id, title: s.title, ok: true, durationMs: Date.now() - t0 });
      } catch (e) {
        out.ok = false;
        out.steps.push({ id: s.id, title: s.title, ok: false, durationMs: Date.now() - t0, error: e instanceof Error ? e.message : String(e) });
        failure = e;
        break;
      }
    }
  } finally {
    // A drill that failed before building anything must not remove someone's folder.
    const built = out.steps.some((s) => s.id === 'up' && s.ok) || (failure && out.steps[0]?.id === 'up' && !/LAB_(RUNNING|EXISTS|DIR_NOT_EMPTY)/.test(String((failure as { code?: string }).code)));
    if (!o.keepLab && built) {
      ctx.results.down = await labDown(labLayout(dir));
    } else if (built) {
      out.kept = true;
    }
    out.durationMs = Date.now() - started;
  }
  if (failure) throw failure;
  return out;
}
