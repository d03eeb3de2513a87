// Copy back that starts before the identity verdict (recover with a hand-given
// target whose WAL scan is still running): the tables load into the staging
// schema meanwhile, and the publish waits for the gate. A failed verdict drops
// the staging schema and is thrown as is (IDENTITY_MISMATCH, nothing
// published, live tables unchanged); a passed one publishes as usual.
import { describe, expect, it } from 'vitest';
import { withClient } from '../../src/postgres/connect.js';
import { parseTableList } from '../../src/postgres/identifiers.js';
import { tableChecksum } from '../../src/recovery/checksum.js';
import { copyBack } from '../../src/recovery/copy-back.js';
import { assertIdentity, type TableIdentity } from '../../src/recovery/identity.js';
import type { Timeline } from '../../src/recovery/timeline.js';
import { usePair } from './copyback-fixture.js';

const fx = usePair();

/** A verdict as judgeIdentity gives it for a source that holds the successor. */
const failed: TableIdentity = {
  name: 'public.orders',
  status: 'failed',
  reason: 'src holds public.orders as relfilenode 99999 with 3 rows, but transaction 1234 removed relfilenode 16390 with 5 rows: the source holds another table of that name (a successor), not the lost one',
  source: { relfilenode: 99999, rows: 3 },
  event: { xid: '1234', relfilenodes: [16390], rows: 5 },
};

/** A timeline that keeps its events (what timeline.jsonl would hold). */
function recordingTimeline(): Timeline & { events: { type: string; [k: string]: unknown }[] } {
  const events: { type: string; [k: string]: unknown }[] = [];
  return {
    events,
    event: (type, data = {}) => void events.push({ type, ...data }),
    lsn: () => {},
    step: async (name, fn) => {
      events.push({ type: 'step-start', step: name });
      return fn();
    },
  } as Timeline & { events: typeof events };
}

/** Copy back of customers and orders into `schema`, its publish gated on `beforePublish`. */
const gatedCopy = (schema: string, beforePublish: () => Promise<void>, timeline?: Timeline) =>
  copyBack({ bin: fx.pair.bin, source: { conn: fx.pair.sourceConn, database: 'postgres' }, production: fx.pair.prodConn, tables: parseTableList('customers, orders'), schema, workDir: fx.pair.workDir, timeline, beforePublish });

const production = (sql: string) => withClient(fx.pair.prodConn, async (c) => (await c.query(sql)).rows);
const liveSums = () => withClient(fx.pair.prodConn, async (c) => ({ customers: await tableChecksum(c, { schema: 'public', name: 'customers' }), orders: await tableChecksum(c, { schema: 'public', name: 'orders' }) }));

describe('copy back gated on the identity verdict (real PostgreSQL)', () => {
  it('a failed verdict: the identity error as is, staging dropped, nothing published, live tables unchanged', async () => {
    const live = await liveSums();
    const tl = recordingTimeline();
    let loadedBeforeVerdict: string[] = [];
    const err = await gatedCopy(
      'gated_fail',
      async () => {
        // the verdict comes while the staging schema holds every table, loaded and built
        loadedBeforeVerdict = (await production("SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname LIKE 'undrop_staging_%' AND relkind = 'r' ORDER BY 1")).map((r) => r.relname);
        assertIdentity([failed]);
      },
      tl,
    ).catch((e) => e);
    expect(loadedBeforeVerdict).toEqual(['customers', 'orders']);
    expect(err.code).toBe('IDENTITY_MISMATCH');
    expect(err.message).toContain('does not hold the lost table');
    expect(err.hint).toContain('Nothing was published in production, and nothing undrop wrote is left there');
    expect(tl.events.map((e) => e.type)).toContain('staging-schema-dropped');
    expect(tl.events.some((e) => e.type === 'step-start' && e.step === 'publish (ALTER SCHEMA … RENAME)')).toBe(false);
    expect(await production("SELECT nspname FROM pg_namespace WHERE nspname = 'gated_fail' OR nspname LIKE 'undrop_staging_%'")).toEqual([]);
    expect(await liveSums()).toEqual(live);
    // the source's tables are back where they were (a temporary instance moves them aside for the copy)
    expect((await fx.pair.source.query('SELECT count(*)::int AS n FROM public.orders')).rows[0].n).toBeGreaterThan(0);
  });

  it('a passed verdict: published after the gate, the copy equal to what it was copied from', async () => {
    let gateOpened = false;
    const r = await gatedCopy('gated_ok', async () => {
      // nothing under the side schema's name until the gate opens
      expect(await production("SELECT nspname FROM pg_namespace WHERE nspname = 'gated_ok'")).toEqual([]);
      gateOpened = true;
    });
    expect(gateOpened).toBe(true);
    expect(r.schema).toBe('gated_ok');
    const sums = await withClient(fx.pair.prodConn, async (c) => [await tableChecksum(c, { schema: 'gated_ok', name: 'customers' }), await tableChecksum(c, { schema: 'gated_ok', name: 'orders' })]);
    // a temporary instance's tables wait in its staging schema after a copy (moved back after verify)
    const at = r.sourceSchema ?? 'public';
    const copiedFrom = await withClient(fx.pair.sourceConn, async (c) => [await tableChecksum(c, { schema: at, name: 'customers' }), await tableChecksum(c, { schema: at, name: 'orders' })]);
    expect(sums).toEqual(copiedFrom);
    expect(await production("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'undrop_staging_%'")).toEqual([]);
  });
});
