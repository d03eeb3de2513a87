// The delayed-replica lock trap (shared/notes §3): on an idle primary the
// replica has replayed everything, so the DROP's AccessExclusiveLocks are
// replayed at once and only the COMMIT waits out the delay (the lab puts its
// replica in exactly that state: labIncidentWithReplica). The tables are
// then locked by the startup process and unreadable on the replica itself;
// materialize must still return them, from a copy recovered to just before
// the destructive transaction, without promoting or restarting the replica.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withClient } from '../../src/postgres/connect.js';
import { resolveConnParams } from '../../src/postgres/conninfo.js';
import { parseTableList, parseTableName } from '../../src/postgres/identifiers.js';
import { readReplicaPosition } from '../../src/lab/replica-state.js';
import { tableChecksum } from '../../src/recovery/checksum.js';
import { materializeReplica } from '../../src/sources/delayed-replica/materialize.js';
import { lockedByStartup } from '../../src/sources/delayed-replica/pause.js';
import { REPLICA_AND_WAL, useLab } from '../helpers/lab.js';

const lab = useLab({ name: 'trap', scale: 2000, delay: '10min', incident: 'holding-incident-locks', components: REPLICA_AND_WAL });

describe('delayed replica on an idle primary', () => {
  it('returns the pre-incident tables although the replica holds the DROP\'s locks', async () => {
    const truth = lab.truth;
    const replicaCfg = lab.inventory.sources.find((s) => s.kind === 'delayed-replica') as { dsn: string; name: string; kind: 'delayed-replica' };
    const replica = { ...resolveConnParams(replicaCfg.dsn), database: 'shipping' };
    // The trap is armed: the startup process holds the dropped tables' locks, waiting out the delay before the COMMIT.
    expect(await withClient(replica, readReplicaPosition)).toMatchObject({ pauseState: 'pause requested', startupWait: 'RecoveryApplyDelay' });
    const locked = await withClient(replica, (c) => lockedByStartup(c, ['public.shipments', 'public.shipment_events', 'public.invoices']));
    expect(locked.length).toBeGreaterThan(0);
    // A reader there waits for the startup process; with a lock_timeout it gets 55P03 instead of hanging
    // (what undrop's replica materialize relies on to choose the copy).
    const read = await withClient(replica, (c) => tableChecksum(c, parseTableName('public.invoices')), { lockTimeoutMs: 1000 }).catch((e) => e);
    expect(read.code).toBe('55P03');

    const i = truth.incident;
    const target = { kind: 'xid' as const, xid: i.xid, commitLsn: i.commitLsn ?? undefined, firstLsn: i.firstLsn ?? undefined, time: i.commitTime ?? undefined, inclusive: false as const, origin: 'truth.json' };
    const m = await materializeReplica(
      replicaCfg,
      { tables: parseTableList('public.shipments,public.shipment_events,public.invoices'), database: 'shipping', target, keep: false, workDir: join(lab.root, 'work'), walArchive: join(lab.dir, 'archive') },
      { name: replicaCfg.name, kind: 'delayed-replica', status: 'degraded', recoveryPoint: null, tables: [], findings: [], durationMs: 0 },
    );
    try {
      expect(m.notes.join(' ')).toMatch(/locks were already replayed/);
      const sums = await withClient(m.conn, async (c) => {
        const out: Record<string, unknown> = {};
        for (const t of ['public.shipments', 'public.shipment_events', 'public.invoices']) out[t] = await tableChecksum(c, parseTableName(t));
        return out;
      });
      expect(sums).toEqual(truth.beforeIncident.tables);
    } finally {
      await m.release();
    }
    // The replica itself was only paused: still a standby, still paused, the DROP not applied.
    const after = await withClient(replica, (c) => c.query("select pg_is_in_recovery() as rec, pg_get_wal_replay_pause_state() as s, to_regclass('public.shipments') is not null as still_there"));
    expect(after.rows[0]).toMatchObject({ rec: true, still_there: true });
    expect(['paused', 'pause requested']).toContain(after.rows[0].s);
  });
});
