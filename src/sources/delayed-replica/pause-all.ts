// Pause every delayed replica of an inventory at once (seconds matter: each
// one moves toward the incident until it is paused). Never throws: a replica
// that cannot be reached or paused is an outcome the caller reports.
import { errorMessage, isUndropError } from '../../errors.js';
import type { Inventory, SourceConfigOf } from '../../inventory/schema.js';
import { withClient } from '../../postgres/connect.js';
import { resolveConnParams } from '../../postgres/conninfo.js';
import { type ReplicaPauseOutcome, type ResumeOutcome, pauseDelayedReplica, resumeReplica } from './pause.js';

type Replica = SourceConfigOf<'delayed-replica'>;

export function delayedReplicas(inv: Inventory, only?: string[]): Replica[] {
  return inv.sources.filter((s): s is Replica => s.kind === 'delayed-replica' && (!only?.length || only.includes(s.name)));
}

const SESSION = { statementTimeoutMs: 15_000, lockTimeoutMs: 2000, connectTimeoutMs: 5000, applicationName: 'undrop pause' };

function failed(name: string, e: unknown): { code: string; message: string; hint?: string } {
  return { code: isUndropError(e) ? e.code : 'PAUSE_FAILED', message: errorMessage(e), ...(isUndropError(e) && e.hint ? { hint: e.hint } : {}) };
}

/** Pause each replica in parallel; `onOutcome` fires as each one answers (the guided flow prints it at once). */
export async function pauseReplicas(replicas: Replica[], o: { incidentTime?: string; onOutcome?: (r: ReplicaPauseOutcome) => void } = {}): Promise<ReplicaPauseOutcome[]> {
  return Promise.all(
    replicas.map(async (r) => {
      const out = await withClient(resolveConnParams(r.dsn), (c) => pauseDelayedReplica(c, r.name, o.incidentTime), SESSION).catch(
        (e: unknown): ReplicaPauseOutcome => ({ name: r.name, outcome: 'failed', safe: false, delayMs: null, replayTime: null, replayLsn: null, lagMs: null, leftMs: null, pausedAt: null, error: failed(r.name, e) }),
      );
      o.onOutcome?.(out);
      return out;
    }),
  );
}

export async function resumeReplicas(replicas: Replica[]): Promise<ResumeOutcome[]> {
  return Promise.all(
    replicas.map((r) =>
      withClient(resolveConnParams(r.dsn), (c) => resumeReplica(c, r.name), { ...SESSION, applicationName: 'undrop resume' }).catch(
        (e: unknown): ResumeOutcome => ({ name: r.name, outcome: 'failed', replayTime: null, delayMs: null, error: failed(r.name, e) }),
      ),
    ),
  );
}
