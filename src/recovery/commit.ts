// COMMIT over a connection that may break. A COMMIT whose answer never
// arrives may have committed: the server finishes it before it notices the
// client is gone. So undrop never says "nothing was written" then: it
// reconnects and asks PostgreSQL for the transaction's status
// (txid_status), and reports what really happened.
import type pg from 'pg';
import { failure } from '../errors.js';
import { holdStopUntil } from '../postgres/cleanup.js';
import { withClient } from '../postgres/connect.js';
import type { ConnParams } from '../postgres/conninfo.js';
import { isConnectionLost } from './pg-errors.js';
import { COMMITTED, silentTimeline, type Timeline } from './timeline.js';

export type CommitStatus = 'committed' | 'aborted' | 'in progress' | 'unknown';

/** txid_status of `xid`, read on a new connection; retried while production is coming back. */
async function statusOf(production: ConnParams, xid: string, tries = 5): Promise<CommitStatus> {
  for (let i = 0; i < tries; i++) {
    try {
      const s = await withClient(production, async (c) => (await c.query<{ s: string | null }>('SELECT txid_status($1::bigint) AS s', [xid])).rows[0]?.s ?? null, { applicationName: 'undrop commit check', connectTimeoutMs: 5000, statementTimeoutMs: 10_000 });
      if (s === 'committed' || s === 'aborted') return s;
      // 'in progress': the old backend is still finishing (it has not seen the client go).
    } catch {
      /* production not reachable yet */
    }
    await new Promise((r) => setTimeout(r, 1000 * (i + 1)));
  }
  return 'unknown';
}

/**
 * COMMIT the transaction open on `c`. When the connection breaks at COMMIT,
 * find out: returns normally when it committed, throws a clear error when it
 * did not (nothing written) or when nobody can tell yet (and how to check).
 */
export async function commitOrFindOut(c: pg.Client, production: ConnParams, step: string, timeline: Timeline = silentTimeline, beforeCommit?: () => void, detail: Record<string, string> = {}): Promise<void> {
  // recorded in the COMMIT's own continuation: a signal waiting for that answer (holdStopUntil) reads it
  const committed = () => timeline.event(COMMITTED, { step, ...detail });
  const xid = (await c.query<{ x: string }>('SELECT txid_current()::text AS x')).rows[0]!.x;
  // The last word before COMMIT is sent (copy back: no commit once a signal arrived); throwing leaves the transaction open for the caller to roll back.
  beforeCommit?.();
  try {
    // sent: a signal from now on waits for the answer before it says what production holds
    await holdStopUntil(c.query('COMMIT'));
    committed();
    return;
  } catch (e) {
    if (!isConnectionLost(e)) throw e;
    const status = await statusOf(production, xid);
    timeline.event('commit-connection-lost', { step, xid, status });
    if (status === 'committed') return committed();
    if (status === 'aborted') {
      throw failure('PRODUCTION_CONNECTION_LOST', `The connection to production was lost at the COMMIT of ${step}. undrop reconnected and read the transaction's status: transaction ${xid} was NOT committed (PostgreSQL rolled it back), so nothing was written.`, {
        hint: 'Check that production is stable (pg_isready, its log), then run the same command again.',
        cause: e,
      });
    }
    throw failure('PRODUCTION_COMMIT_UNKNOWN', `The connection to production was lost at the COMMIT of ${step}, and undrop could not reconnect to find out whether transaction ${xid} committed.`, {
      hint: `Do not run it again yet. When production is back, ask it: SELECT txid_status(${xid}); — 'committed' means ${step} is in production (see the report), 'aborted' means nothing was written and the command can be run again.`,
      cause: e,
    });
  }
}
