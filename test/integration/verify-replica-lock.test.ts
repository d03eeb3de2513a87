// verify on a delayed replica that already holds a replayed DROP's locks
// (the lock trap, shared/notes §3): the drill must not hang on them. Tables
// it cannot count within lock_timeout are reported "not counted", and the
// replica is only read: never paused.
import { describe, expect, it } from 'vitest';
import { withClient } from '../../src/postgres/connect.js';
import { resolveConnParams } from '../../src/postgres/conninfo.js';
import { labIncidentWithReplica } from '../../src/lab/replica-state.js';
import { lockedByStartup } from '../../src/sources/delayed-replica/pause.js';
import { undrop } from '../cli.js';
import { REPLICA_AND_WAL, useLab } from '../helpers/lab.js';

const lab = useLab({ name: 'vlock', scale: 2000, delay: '10min', incident: false, components: REPLICA_AND_WAL });

describe('verify on a delayed replica holding the incident\'s locks', () => {
  it('finishes, reports the locked tables as not counted, and leaves replay running', async () => {
    // The trap armed with replay left running: the startup process holds the locks while it waits out the delay.
    await labIncidentWithReplica({ dir: lab.dir, replica: 'holding-incident-locks', pause: false });
    const cfg = lab.inventory.sources.find((s) => s.kind === 'delayed-replica') as { dsn: string; name: string };
    const replica = { ...resolveConnParams(cfg.dsn), database: 'shipping' };
    const locked = await withClient(replica, (c) => lockedByStartup(c, ['public.shipments', 'public.shipment_events', 'public.invoices']));
    expect(locked.length).toBe(3);

    const r = await undrop(['--json', '-c', lab.cfg, 'verify', '--source', cfg.name], { timeoutMs: 240_000 });
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
