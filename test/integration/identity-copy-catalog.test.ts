// A hand-given xid target from a source replayed to it (PITR, pgBackRest),
// with no delayed replica to name the files the incident removed: the WAL
// scan alongside names them from recover's own temporary instance, which is
// the cluster just before that transaction's commit, instead of replaying a
// base backup copy of its own beside it. The identity is still proven
// against the WAL (the table's file is one the transaction removed), and
// no catalog copy ("locate-catalog") is started.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/postgres/connect.js';
import { undrop } from '../cli.js';
import { useLab } from '../helpers/lab.js';
import { archiveNow } from '../helpers/archive.js';

const lab = useLab({ name: 'idcopy', scale: 2000, timeoutMs: 600_000, components: { replica: false, snapshots: false, dumps: false } });
const LOST = 'shipments,shipment_events,invoices';
let truth: any;

beforeAll(() => {
  ({ truth } = lab);
});

describe('identity named by the recovered copy itself', () => {
  for (const source of ['pitr', 'backrest']) {
    it(`${source}, --target xid: identity proven from the WAL, no catalog copy of the scan's own`, async () => {
      const r = await undrop(['-c', lab.cfg, 'recover', '--yes', '--json', '--tables', LOST, '--source', source, '--schema', `idcopy_${source}`, '--target', `xid:${truth.incident.xid}`], { timeoutMs: 600_000 });
      expect(r.exitCode, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout);
      for (const t of doc.tables) {
        expect(t.identity, t.identityReason).toBe('proven');
        expect(t.identityReason).toMatch(new RegExp(`relfilenode \\d+ in ${source} is the file transaction ${truth.incident.xid} removed`));
      }
      const timeline = readFileSync(join(dirname(doc.report), 'timeline.jsonl'), 'utf8');
      expect(timeline).not.toContain('locate-catalog');
      // the copy named them: the located event's catalog is the temporary instance
      const named = timeline.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((e) => e.type === 'wal-scan-event');
      expect(named).toMatchObject({ xid: truth.incident.xid, catalog: `${source}'s temporary instance (replayed to the target)`, relations: expect.arrayContaining([expect.stringMatching(/shipments$/), expect.stringMatching(/invoices$/)]) });
    }, 600_000);
  }

  it('a target forced past the incident (a later DROP) still fails the check: the incident is named by a copy of its own', async () => {
    // a destructive transaction after the incident, archived
    const xid = await withClient(lab.prod, async (c) => {
      await c.query('begin');
      await c.query('create table later_junk (id int); insert into later_junk select generate_series(1, 10)');
      await c.query('commit');
      await c.query('begin');
      await c.query('drop table later_junk');
      const x = (await c.query<{ x: string }>('select pg_current_xact_id()::text as x')).rows[0]!.x;
      await c.query('commit');
      await archiveNow(c);
      return x;
    });
    const r = await undrop(['-c', lab.cfg, 'recover', '--yes', '--tables', LOST, '--source', 'pitr', '--schema', 'idcopy_forced', '--target', `xid:${xid}`], { timeoutMs: 600_000 });
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toContain('error [IDENTITY_MISMATCH]');
  }, 600_000);
});
