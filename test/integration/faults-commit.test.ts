// The fault matrix, production: the connection breaks at COMMIT (a proxy
// cuts it for real, before or after the server received the COMMIT). undrop
// must reconnect, read the transaction's status and say what really
// happened: never "nothing was written" when the copy back (or the promote)
// committed, never "done" when it did not.
import { describe, expect, it } from 'vitest';
import { withClient } from '../../src/postgres/connect.js';
import type { ConnParams } from '../../src/postgres/conninfo.js';
import { parseTableList } from '../../src/postgres/identifiers.js';
import { tableChecksum } from '../../src/recovery/checksum.js';
import { copyBack, moveBackInSource } from '../../src/recovery/copy-back.js';
import { promoteReplace } from '../../src/recovery/promote-replace.js';
import type { Timeline } from '../../src/recovery/timeline.js';
import { commitProxy } from '../fixtures/commit-proxy.js';
import { usePair } from './copyback-fixture.js';

const fx = usePair({ timeoutMs: 120_000 });

function recorder(): Timeline & { events: { type: string; data: Record<string, unknown> }[] } {
  const events: { type: string; data: Record<string, unknown> }[] = [];
  return { events, step: (_n, fn) => fn(), event: (type, data = {}) => events.push({ type, data }), lsn: () => {} };
}

async function through(cut: 'before-commit' | 'after-commit', after?: RegExp) {
  const sock = fx.pair.prodConn;
  const proxy = await commitProxy({ socketDir: sock.host!, port: sock.port!, cut, after });
  const production: ConnParams = { ...sock, host: '127.0.0.1', port: proxy.port };
  return { proxy, production };
}

const schemaExists = (name: string) => withClient(fx.pair.prodConn, async (c) => (await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [name])).rowCount === 1);
const TABLES = parseTableList('customers, orders');

describe('connection lost at COMMIT', () => {
  it('copy back, cut before the server got the COMMIT: PRODUCTION_CONNECTION_LOST says it was NOT committed (read back from production), no side schema, source tables back in place', async () => {
    const { proxy, production } = await through('before-commit');
    const tl = recorder();
    try {
      const err = await copyBack({ bin: fx.pair.bin, source: { conn: fx.pair.sourceConn, database: 'postgres' }, production, tables: TABLES, schema: 'cut_before', workDir: fx.pair.workDir, timeline: tl }).catch((e) => e);
      expect(proxy.cut).toBe(1);
      expect(err.code, String(err)).toBe('PRODUCTION_CONNECTION_LOST');
      expect(err.message).toMatch(/lost at the COMMIT of copy back\. undrop reconnected and read the transaction's status: transaction \d+ was NOT committed/);
      expect(err.hint).toMatch(/run the same command again/);
      expect(tl.events.find((e) => e.type === 'commit-connection-lost')?.data).toMatchObject({ status: 'aborted' });
    } finally {
      await proxy.close();
    }
    expect(await schemaExists('cut_before')).toBe(false);
    expect((await fx.pair.source.query<{ n: number }>("SELECT count(*)::int AS n FROM public.customers")).rows[0]!.n).toBe(1000);
  });

  it('copy back, cut after the server got the COMMIT: undrop finds it committed and goes on (the side schema is there, rows equal the source)', async () => {
    const { proxy, production } = await through('after-commit');
    let sourceSchema = '';
    let moved: Awaited<ReturnType<typeof copyBack>>['tables'] = [];
    const tl = recorder();
    try {
      const r = await copyBack({ bin: fx.pair.bin, source: { conn: fx.pair.sourceConn, database: 'postgres' }, production, tables: TABLES, schema: 'cut_after', workDir: fx.pair.workDir, timeline: tl });
      sourceSchema = r.sourceSchema;
      moved = r.tables;
      expect(proxy.cut).toBe(1);
      expect(r.schema).toBe('cut_after');
      expect(tl.events.find((e) => e.type === 'commit-connection-lost')?.data).toMatchObject({ step: 'copy back', status: 'committed' });
    } finally {
      await proxy.close();
    }
    expect(await schemaExists('cut_after')).toBe(true);
    const src = await withClient({ ...fx.pair.sourceConn, database: 'postgres' }, (c) => tableChecksum(c, { schema: sourceSchema, name: 'orders' }));
    const got = await withClient(fx.pair.prodConn, (c) => tableChecksum(c, { schema: 'cut_after', name: 'orders' }));
    expect(got).toEqual(src);
    await moveBackInSource({ conn: fx.pair.sourceConn, database: 'postgres' }, { tables: moved, sourceSchema });
  });

  // The tables load in parallel and are published by one rename in the last transaction: the same two cuts there.
  it('copy back, cut before the server got the publishing COMMIT: NOT committed, the staging schema dropped, no side schema, source tables back in place', async () => {
    const { proxy, production } = await through('before-commit', /^ALTER SCHEMA /);
    const tl = recorder();
    try {
      const err = await copyBack({ bin: fx.pair.bin, source: { conn: fx.pair.sourceConn, database: 'postgres' }, production, tables: TABLES, schema: 'cut_publish', workDir: fx.pair.workDir, timeline: tl }).catch((e) => e);
      expect(proxy.cut).toBe(1);
      expect(err.code, String(err)).toBe('PRODUCTION_CONNECTION_LOST');
      expect(err.message).toMatch(/transaction \d+ was NOT committed/);
      expect(tl.events.find((e) => e.type === 'staging-schema-dropped')).toBeDefined();
    } finally {
      await proxy.close();
    }
    expect(await schemaExists('cut_publish')).toBe(false);
    expect(await withClient(fx.pair.prodConn, async (c) => (await c.query("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'undrop_staging_%'")).rows)).toEqual([]);
    expect((await fx.pair.source.query<{ n: number }>('SELECT count(*)::int AS n FROM public.customers')).rows[0]!.n).toBe(1000);
  });

  it('copy back, cut after the server got the publishing COMMIT: undrop finds it committed; the side schema holds the source rows', async () => {
    const { proxy, production } = await through('after-commit', /^ALTER SCHEMA /);
    const tl = recorder();
    let r: Awaited<ReturnType<typeof copyBack>> | undefined;
    try {
      r = await copyBack({ bin: fx.pair.bin, source: { conn: fx.pair.sourceConn, database: 'postgres' }, production, tables: TABLES, schema: 'cut_publish_after', workDir: fx.pair.workDir, timeline: tl });
      expect(proxy.cut).toBe(1);
      expect(tl.events.find((e) => e.type === 'commit-connection-lost')?.data).toMatchObject({ step: 'copy back', status: 'committed' });
    } finally {
      await proxy.close();
    }
    const src = await withClient({ ...fx.pair.sourceConn, database: 'postgres' }, (c) => tableChecksum(c, { schema: r!.sourceSchema, name: 'orders' }));
    const got = await withClient(fx.pair.prodConn, (c) => tableChecksum(c, { schema: 'cut_publish_after', name: 'orders' }));
    expect(got).toEqual(src);
    await moveBackInSource({ conn: fx.pair.sourceConn, database: 'postgres' }, r!);
  });

  it('promote (replace), cut after the COMMIT: undrop finds it committed; the live table is renamed aside and the recovered one is in place', async () => {
    const { proxy, production } = await through('after-commit');
    const tl = recorder();
    try {
      const r = await promoteReplace({ production, tables: [{ original: { schema: 'public', name: 'customers' }, recoveredAs: { schema: 'cut_after', name: 'customers' } }], timeline: tl });
      expect(proxy.cut).toBe(1);
      expect(r.tables[0]!.liveRenamedToName).toMatch(/^public\.customers_before_undrop_/);
      expect(tl.events.find((e) => e.type === 'commit-connection-lost')?.data).toMatchObject({ step: 'promote (replace)', status: 'committed' });
    } finally {
      await proxy.close();
    }
    const n = await withClient(fx.pair.prodConn, async (c) => (await c.query('SELECT count(*)::int AS n FROM public.customers')).rows[0].n);
    expect(n).toBe(1000);
  });
});
