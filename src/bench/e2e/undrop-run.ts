// One `undrop recover` run through the CLI, as a responder starts it (a new
// node process: its start-up counts), timed from spawn to exit; the step
// breakdown comes from the run's own incident log (timeline.jsonl).
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { CONTROL_OUTDIR } from '../../build/bundle.js';

export interface UndropRun {
  wallMs: number;
  /** Top-level steps of the incident log: name → ms. */
  steps: Record<string, number>;
  /** Inside the loads, per table: "table: copy|checksum|keys|source checksum" → ms (timeline events table-loaded, source-checksum). */
  loadParts: Record<string, number>;
  /** Phases inside the steps (materialize's copy, start, replay, promotion; probe's parts): name → ms. */
  phases: Record<string, number>;
  /** Checksums inside copy back: production side in the transaction, the wait for the source side after commit. */
  verifyMs: number;
  /** Replica sources: from spawn to "replay paused". */
  replicaPausedMs?: number;
  tables: { name: string; rows: number; checksum: string; identity: string }[];
  schema: string;
}

// Built (dist/…/main.js), or from source through tsx as the tests run it.
const HERE = fileURLToPath(import.meta.url);
const CLI = HERE.endsWith('.ts') ? ['--import', 'tsx', join(dirname(HERE), '..', '..', 'cli', 'main.ts')] : [join(dirname(HERE), '..', '..', 'cli', 'main.js')];

/** `control`: the bench's control bundle (hashing off, build/bundle.ts), always the built one. */
export async function runUndrop(o: { config: string; source: string; tables: string[]; xid: string; schema: string; extra?: string[]; control?: boolean }): Promise<UndropRun> {
  const args = [...(o.control ? [join(CONTROL_OUTDIR, 'main.js')] : CLI), '-c', o.config, '--json', '--yes', 'recover', '--source', o.source, '--tables', o.tables.join(','), '--target', `xid:${o.xid}`, '--schema', o.schema, ...(o.extra ?? [])];
  const started = Date.now();
  const r = await execa(process.execPath, args, { reject: false, stdin: 'ignore' });
  const wallMs = Date.now() - started;
  if (r.exitCode !== 0) throw new Error(`undrop recover --source ${o.source} exited ${r.exitCode}: ${String(r.stderr).split('\n').slice(-8).join('\n')}`);
  const doc = JSON.parse(String(r.stdout)) as { tables: { name: string; rows: number; checksum: string; identity: string }[]; report: string; schema: string };
  const dir = dirname(doc.report);
  const steps: Record<string, number> = {};
  const loadParts: Record<string, number> = {};
  const phases: Record<string, number> = {};
  let verifyMs = 0;
  let replicaPausedMs: number | undefined;
  for (const line of (await readFile(join(dir, 'timeline.jsonl'), 'utf8')).split('\n')) {
    if (!line.trim()) continue;
    const e = JSON.parse(line) as { type: string; step?: string; table?: string; durationMs?: number; productionMs?: number; sourceWaitMs?: number; phase?: string; copyMs?: number; checksumMs?: number; keysMs?: number };
    if (e.type === 'step-end' && e.step) steps[e.step] = (steps[e.step] ?? 0) + (e.durationMs ?? 0);
    if (e.type === 'table-loaded' && e.table) Object.assign(loadParts, { [`${e.table}: copy`]: e.copyMs ?? 0, [`${e.table}: checksum`]: e.checksumMs ?? 0, [`${e.table}: keys`]: e.keysMs ?? 0 });
    if (e.type === 'source-checksum' && e.table) loadParts[`${e.table}: source checksum`] = e.durationMs ?? 0;
    if (e.type === 'phase-end' && e.phase) phases[e.phase] = (phases[e.phase] ?? 0) + (e.durationMs ?? 0);
    if (e.type === 'checksums-taken') verifyMs += (e.productionMs ?? 0) + (e.sourceWaitMs ?? 0);
  }
  const report = await readFile(doc.report, 'utf8').catch(() => '');
  const paused = /PAUSED \(since ([^)]+)\)/.exec(report);
  if (paused) replicaPausedMs = Date.parse(paused[1]!) - started;
  // The publish waits for the identity verdict, which waits for the source checksums' row counts: verification too.
  verifyMs += (steps.verify ?? 0) + (steps['wait for the identity check (before publish)'] ?? 0);
  return { wallMs, steps, loadParts, phases, verifyMs, replicaPausedMs, tables: doc.tables, schema: doc.schema };
}
