// `undrop pause` and `undrop resume` (registered in commands/pause.ts): the
// fastest safe action of an incident (every minute a delayed replica keeps
// replaying moves it toward the DROP), and its undo. Pause needs no confirmation: it is the one change undrop may
// make to a replica, and it only stops time. Resume gives that time away, so
// it is confirmed.
import { EXIT, usageError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import type { Inventory } from '../../inventory/schema.js';
import { delayedReplicas, pauseReplicas, resumeReplicas } from '../../sources/delayed-replica/pause-all.js';
import { parseTargetTime } from '../../sources/target.js';
import type { PauseDocument, ResumeDocument } from '../../contract.js';
import type { Context } from '../context.js';
import { note, printJson, say } from '../output.js';
import { pauseLine, resumeLine } from '../render/pause.js';
import { stepUi } from '../steps.js';

export interface PauseFlags {
  source?: string[];
  incidentTime?: string;
}

function namesFrom(inv: Inventory, flags: PauseFlags): string[] {
  const only = (flags.source ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  for (const n of only) {
    const s = inv.sources.find((x) => x.name === n);
    if (!s) throw usageError('SOURCE_UNKNOWN', `No source named "${n}" in ${inv.file}.`, `Delayed replicas: ${delayedReplicas(inv).map((r) => r.name).join(', ') || '(none)'}.`);
    if (s.kind !== 'delayed-replica') throw usageError('NOT_A_REPLICA', `Source ${n} is a ${s.kind}, not a delayed replica: there is nothing to pause.`, `Delayed replicas: ${delayedReplicas(inv).map((r) => r.name).join(', ') || '(none)'}.`);
  }
  return only;
}

/** Pause every delayed replica named (all by default), now. */
export async function runPause(c: Context, flags: PauseFlags): Promise<void> {
  const incidentTime = flags.incidentTime ? parseTargetTime(flags.incidentTime, '--incident-time') : undefined;
  const inv = await loadInventory(c.configFlag);
  const replicas = delayedReplicas(inv, namesFrom(inv, flags));
  if (replicas.length === 0) note(`${inv.file} lists no delayed replica: nothing to pause.`);
  const outcomes = await pauseReplicas(replicas, { incidentTime, onOutcome: (r) => (c.json ? note(pauseLine(r)) : say(pauseLine(r))) });
  const safe = outcomes.every((r) => r.safe);
  if (c.json) printJson({ replicas: outcomes, safe } satisfies PauseDocument);
  else if (outcomes.some((r) => r.outcome === 'paused' || r.outcome === 'held')) say('Replay stays paused until `undrop resume` (or select pg_wal_replay_resume(); on the replica). Next: undrop (guided) or undrop locate.');
  process.exitCode = safe ? EXIT.ok : EXIT.failed;
}

/** Resume replay on the paused delayed replicas, after a confirmation. */
export async function runResume(c: Context, flags: PauseFlags): Promise<void> {
  const inv = await loadInventory(c.configFlag);
  const replicas = delayedReplicas(inv, namesFrom(inv, flags));
  if (replicas.length === 0) note(`${inv.file} lists no delayed replica: nothing to resume.`);
  else if (!(await stepUi(c).confirm(`Resume replay on ${replicas.map((r) => r.name).join(', ')}? Each then replays everything it holds back, the incident included, and stops being a recovery source for it.`, []))) {
    throw usageError('DECLINED', 'Not resumed; the replicas stay paused.');
  }
  const outcomes = await resumeReplicas(replicas);
  if (c.json) printJson({ replicas: outcomes } satisfies ResumeDocument);
  else for (const r of outcomes) say(resumeLine(r));
  process.exitCode = outcomes.some((r) => r.outcome === 'failed') ? EXIT.failed : EXIT.ok;
}
