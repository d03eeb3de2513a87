import { describe, expect, it } from 'vitest';
import { connect } from '../../src/postgres/connect.js';
import { parseTableList } from '../../src/postgres/identifiers.js';
import { copyBack } from '../../src/recovery/copy-back.js';
import { SOURCE_DATA_SQL, usePair } from './copyback-fixture.js';
import { waitUntil } from '../helpers.js';

// enough rows that the COPY runs for a while
const fx = usePair({
  sourceData: SOURCE_DATA_SQL + `INSERT INTO orders (customer_id, total, payload) SELECT 1 + g % 1000, 1, repeat(md5(g::text), 8) FROM generate_series(1, 400000) g;`,
});

describe('copy back failures (real PostgreSQL)', () => {
  it('production connection killed mid-copy: clear error, no side schema and no staging schema left, source tables back in place', async () => {
    const killer = await connect(fx.pair.prodConn, { applicationName: 'killer' });
    let killed: number | undefined;
    let stop = false;
    const hunt = (async () => {
      // the big table's COPY: the small one commits on its own connection within milliseconds (tables load in parallel)
      while (!stop && killed === undefined) {
        const r = await killer.query(`SELECT pid FROM pg_stat_activity WHERE application_name = 'undrop copy back' AND query LIKE 'COPY %orders%FROM STDIN%'`);
        if (r.rows[0]) {
          await new Promise((res) => setTimeout(res, 50));
          killed = r.rows[0].pid;
          await killer.query('SELECT pg_terminate_backend($1)', [killed]);
        } else await new Promise((res) => setTimeout(res, 5));
      }
    })();
    const err = await copyBack({ bin: fx.pair.bin, source: { conn: fx.pair.sourceConn, database: 'postgres' }, production: fx.pair.prodConn, tables: parseTableList('customers, orders'), schema: 'doomed', workDir: fx.pair.workDir }).catch((e) => e);
    stop = true;
    await hunt;
    expect(killed).toBeDefined();
    expect(err.code).toBe('PRODUCTION_CONNECTION_LOST');
    expect(err.message).toMatch(/nothing was written/);
    const left = await killer.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'doomed'`);
    expect(left.rows[0].n).toBe(0);
    // the tables load in parallel into a staging schema: it is dropped, and no loader is left running
    const staging = await killer.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'undrop_staging_%'`);
    expect(staging.rows).toEqual([]);
    // a terminated backend leaves pg_stat_activity a moment after its client saw the error
    await waitUntil('the copy back sessions to leave production', async () => (await killer.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'undrop copy back%'`)).rows[0].n === 0, { tries: 100, everyMs: 100 });
    await killer.end();
    const src = await fx.pair.source.query(`SELECT (SELECT count(*) FROM public.orders)::int AS o, (SELECT count(*) FROM pg_namespace WHERE nspname = 'doomed')::int AS s`);
    expect(src.rows[0]).toEqual({ o: 405000, s: 0 });
  });
});
