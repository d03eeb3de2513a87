// `lab drill`: a tabletop drill as a list of steps (up → incident → status,
// then down unless --keep-lab). Later steps (probe, locate, recover, verify,
// score) are added to DRILL_STEPS; each gets the shared context and returns
// a result that goes into the drill's JSON document.
import type { RecoverDocument } from '../recovery/recover-checklist.js';
import { labDown } from './down.js';
import { drillLocate, drillProbe, drillRecover, drillScore } from './drill-recovery.js';
import type { Truth } from './incident.js';
import { labIncident } from './incident.js';
import { labLayout } from './layout.js';
import { type Progress, silent, step } from './progress.js';
import { labStatus } from './status.js';
import { labUp, type UpOptions } from './up.js';

export interface DrillOptions extends UpOptions {
  keepLab?: boolean;
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
  { id: 'recover', title: 'Recover the lost tables into a side schema', run: (c) => step(c.progress, 'recover', 'Recover the lost tables into a side schema (undrop recover --yes)', () => drillRecover(c.dir, c.progress), (r) => `from ${r.source} into ${r.schema}`) },
  {
    id: 'score',
    title: 'Score against the ground truth',
    run: (c) =>
      step(c.progress, 'score', 'Score against the ground truth (truth.json)', () => drillScore(c.dir, (c.results.incident as { truth: Truth }).truth, c.results.recover as RecoverDocument), (r) => (r.exact ? 'every row back, checksums equal' : `${r.rowsMissing} rows missing`)),
  },
];

export interface DrillResult {
  dir: string;
  ok: boolean;
  steps: { id: string; title: string; ok: boolean; durationMs: number; error?: string }[];
  results: Record<string, unknown>;
  kept: boolean;
  durationMs: number;
}

export async function runDrill(o: DrillOptions = {}, steps: DrillStep[] = DRILL_STEPS): Promise<DrillResult> {
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
