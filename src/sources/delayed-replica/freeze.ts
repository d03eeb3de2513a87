// Freezing a delayed replica: pause replay before it reaches the incident.
// Undelayed standbys (they may serve reads) are left alone; an unreachable
// one is reported at once (it may still be replaying toward the incident).
import { connect } from '../../postgres/connect.js';
import { resolveConnParams, safeDsn } from '../../postgres/conninfo.js';
import type { SourceConfigOf } from '../../inventory/schema.js';
import type { FreezeHook } from '../types.js';
import { RESUME_SQL } from './materialize.js';
import { pauseReplay, readPauseState } from './pause.js';

export const freezeReplica: FreezeHook<'delayed-replica'> = {
  name: 'pause',
  title: (config) => `Pausing replay on delayed replica ${config.name}`,
  async run(config: SourceConfigOf<'delayed-replica'>, ctx) {
    let c;
    try {
      c = await connect({ ...resolveConnParams(config.dsn), database: ctx.database }, { statementTimeoutMs: 10_000, lockTimeoutMs: 2000, connectTimeoutMs: 5000 });
    } catch (e) {
      // Not reachable from here: it may still be replaying toward the incident. Say so now, not after the restore.
      const why = (e instanceof Error ? e.message.split('\n')[0]! : String(e)).replace(/[.\s]+$/, '');
      return {
        paused: false,
        nextSteps: [],
        warning: `Could NOT pause delayed replica ${config.name}: ${why}. If it is up, it keeps replaying toward the incident: pause it by hand now (psql "${safeDsn(config.dsn)}" -c "select pg_wal_replay_pause();").`,
      };
    }
    try {
      const delay = await c.query("select pg_is_in_recovery() as rec, current_setting('recovery_min_apply_delay') as d");
      if (!delay.rows[0].rec || ['0', '0ms', '0s'].includes(String(delay.rows[0].d))) return null;
      if ((await readPauseState(c)).state !== 'paused') await pauseReplay(c);
      return {
        nextSteps: [
          `Delayed replica ${config.name} is PAUSED (undrop paused it); resume replay when the data is safe: psql "${safeDsn(config.dsn)}" -c "${RESUME_SQL}" (its delay window restarts; the password comes from PGPASSWORD or ~/.pgpass, never from this command).`,
          `Reading the lost tables directly on the paused replica ${config.name} can block: it may hold the incident's locks (replayed before the delayed COMMIT). Use SET lock_timeout = '2s' there, or read the recovered copy in production.`,
        ],
      };
    } finally {
      await c.end().catch(() => {});
    }
  },
};
