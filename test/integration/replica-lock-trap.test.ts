// The delayed-replica lock trap (shared/notes §3): on an idle primary the
// replica has replayed everything, so the DROP's AccessExclusiveLocks are
// replayed at once and only the COMMIT waits out the delay. The tables are
// then locked by the startup process and unreadable on the replica itself;
// materialize must still return them, from a copy recovered to just before
// the destructive transaction, without promoting or restarting the replica.
import { chmodSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/load.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { withClient } from '../../src/postgres/connect.js';
import { resolveConnParams } from '../../src/postgres/conninfo.js';
import { parseTableList, parseTableName } from '../../src/postgres/identifiers.js';
import { labDown } from '../../src/lab/down.js';
import { labIncident } from '../../src/lab/incident.js';
import { labLayout } from '../../src/lab/layout.js';
import { readState } from '../../src/lab/state.js';
import { labUp } from '../../src/lab/up.js';
import { stopWorkload } from '../../src/lab/workload.js';
import { tableChecksum } from '../../src/recovery/checksum.js';
import { materializeReplica } from '../../src/sources/delayed-replica/materialize.js';
import { lockedByStartup } from '../../src/sources/delayed-replica/pause.js';
import { sleep } from '../../src/util/time.js';
import { testWorkDir, waitUntil } from '../helpers.js';

const root = mkdtempSync(join(testWorkDir(), 'trap-'));
chmodSync(root, 0o755);
const dir = join(root, 'lab');

afterAll(async () => {
  await runAllCleanups();
  if (existsSync(dir)) await labDown(labLayout(dir)).catch(() => {});
});

describe('delayed replica on an idle primary', () => {
  it('returns the pre-incident tables although the replica holds the DROP\'s locks', async () => {
    await labUp({ dir, scale: 2000, delay: '30s' });
    const state = (await readState(labLayout(dir)))!;
    await stopWorkload(state.workload!.pid);
    const inv = await loadInventory(join(dir, 'undrop.yaml'));
    const replicaCfg = inv.sources.find((s) => s.kind === 'delayed-replica') as { dsn: string; name: string; kind: 'delayed-replica' };
    const replica = { ...resolveConnParams(replicaCfg.dsn), database: 'shipping' };
    // Idle: wait until the replica has applied every commit it received.
    await waitUntil('the replica to apply every commit it received', async () => {
      const r = await withClient(replica, (c) =>
        c.query("select pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() as caught, (select wait_event from pg_stat_activity where backend_type = 'startup') as w"),
      );
      return r.rows[0].caught && r.rows[0].w !== 'RecoveryApplyDelay';
    }, { tries: 120, everyMs: 1000 });
    await labIncident({ dir });
    const truth = JSON.parse(readFileSync(join(dir, 'truth.json'), 'utf8'));
    // The trap is armed: the startup process holds the dropped tables' locks.
    await sleep(500);
    const locked = await withClient(replica, (c) => lockedByStartup(c, ['public.shipments', 'public.shipment_events', 'public.invoices']));
    expect(locked.length).toBeGreaterThan(0);
    // A reader there waits for the startup process; with a lock_timeout it gets 55P03 instead of hanging
    // (what the delayed-replica tests of materialize and recover-lab rely on).
    const read = await withClient(replica, (c) => tableChecksum(c, parseTableName('public.invoices')), { lockTimeoutMs: 1000 }).catch((e) => e);
    expect(read.code).toBe('55P03');

    const target = { kind: 'xid' as const, xid: truth.incident.xid, commitLsn: truth.incident.commitLsn, firstLsn: truth.incident.firstLsn, time: truth.incident.commitTime, inclusive: false as const, origin: 'truth.json' };
    const m = await materializeReplica(
      replicaCfg,
      { tables: parseTableList('public.shipments,public.shipment_events,public.invoices'), database: 'shipping', target, keep: false, workDir: join(root, 'work'), walArchive: join(dir, 'archive') },
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
