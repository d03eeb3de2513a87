// verify on a delayed replica that already holds a replayed DROP's locks
// (the lock trap, shared/notes §3): the drill must not hang on them. Tables
// it cannot count within lock_timeout are reported "not counted", and the
// replica is only read: never paused.
import { chmodSync, existsSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/load.js';
import { withClient } from '../../src/postgres/connect.js';
import { resolveConnParams } from '../../src/postgres/conninfo.js';
import { labDown } from '../../src/lab/down.js';
import { labIncident } from '../../src/lab/incident.js';
import { labLayout } from '../../src/lab/layout.js';
import { readState } from '../../src/lab/state.js';
import { labUp } from '../../src/lab/up.js';
import { stopWorkload } from '../../src/lab/workload.js';
import { lockedByStartup } from '../../src/sources/delayed-replica/pause.js';
import { sleep } from '../../src/util/time.js';
import { undrop } from '../cli.js';
import { testWorkDir, waitUntil } from '../helpers.js';

const root = mkdtempSync(join(testWorkDir(), 'vlock-'));
chmodSync(root, 0o755);
const dir = join(root, 'lab');

afterAll(async () => {
  if (existsSync(dir)) await labDown(labLayout(dir)).catch(() => {});
});

describe('verify on a delayed replica holding the incident\'s locks', () => {
  it('finishes, reports the locked tables as not counted, and leaves replay running', async () => {
    await labUp({ dir, scale: 2000, delay: '45s' });
    const state = (await readState(labLayout(dir)))!;
    await stopWorkload(state.workload!.pid);
    const inv = await loadInventory(join(dir, 'undrop.yaml'));
    const cfg = inv.sources.find((s) => s.kind === 'delayed-replica') as { dsn: string; name: string };
    const replica = { ...resolveConnParams(cfg.dsn), database: 'shipping' };
    await waitUntil('the replica replayed everything it received and is not waiting out its delay', async () => {
      const r = await withClient(replica, (c) => c.query("select pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() as caught, (select wait_event from pg_stat_activity where backend_type = 'startup') as w"));
      return r.rows[0].caught && r.rows[0].w !== 'RecoveryApplyDelay';
    }, { tries: 120, everyMs: 1000 });
    await labIncident({ dir });
    let locked: string[] = [];
    for (let i = 0; i < 30 && locked.length === 0; i++) {
      await sleep(500);
      locked = await withClient(replica, (c) => lockedByStartup(c, ['public.shipments', 'public.shipment_events', 'public.invoices']));
    }
    expect(locked.length).toBeGreaterThan(0);

    const r = await undrop(['--json', '-c', join(dir, 'undrop.yaml'), 'verify', '--source', cfg.name], { timeoutMs: 240_000 });
    expect([0, 3], r.stderr.slice(-1500)).toContain(r.exitCode);
    const s = JSON.parse(r.stdout).sources[0];
    expect(s.checked).toBe('probed');
    console.log(`replica under the lock trap: ${JSON.stringify(s.tables)} ${JSON.stringify(s.notes)}`);
    for (const rel of locked) {
      const name = rel.includes('.') ? rel : `public.${rel}`;
      const t = s.tables.find((x: { name: string }) => x.name === name);
      expect(t, name).toMatchObject({ rows: null });
      expect(t.note).toMatch(/locked/);
    }
    expect(s.notes.join(' ')).toMatch(/not counted/);
    const pause = await withClient(replica, (c) => c.query('select pg_get_wal_replay_pause_state() as s'));
    expect(pause.rows[0].s).toBe('not paused');
  }, 600_000);
});
