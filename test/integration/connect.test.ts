import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findBinaries } from '../../src/postgres/binaries.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { withClient, withTransaction } from '../../src/postgres/connect.js';
import { resolveConnParams } from '../../src/postgres/conninfo.js';
import { TempInstance } from '../../src/postgres/instance.js';
import { testWorkDir } from '../helpers.js';

afterAll(() => runAllCleanups());

describe('connections', () => {
  it('says which server and what to check when nothing listens there', async () => {
    const p = resolveConnParams('host=/tmp/undrop-nowhere port=5999 user=app dbname=shop', {});
    await expect(withClient(p, async () => {})).rejects.toMatchObject({
      code: 'UNREACHABLE',
      exitCode: 1,
      message: expect.stringContaining('socket /tmp/undrop-nowhere port 5999 as user app, database shop'),
    });
  });

  it('reports a wrong password as bad input, without the password', async () => {
    const bin = await findBinaries();
    const inst = await TempInstance.create({ bin, workDir: testWorkDir(), name: 'auth' });
    await inst.start();
    await inst.query("create role app login password 'right-one'");
    writeFileSync(join(inst.dataDir, 'undrop_hba.conf'), 'local all postgres trust\nlocal all all scram-sha-256\n');
    await inst.query('select pg_reload_conf()');
    const p = { ...inst.connParams('postgres'), user: 'app', password: 'wrong-one' };
    const err = await withClient(p, async () => {}).catch((e) => e);
    expect(err).toMatchObject({ code: 'AUTH_FAILED', exitCode: 2 });
    expect(err.message).not.toContain('wrong-one');
    expect(err.hint).toMatch(/pgpass/);
    await withClient({ ...p, password: 'right-one' }, async (c) => {
      expect((await c.query('select current_user as u')).rows[0].u).toBe('app');
    });
    await inst.destroy();
  });

  it('rolls back a failed transaction', async () => {
    const bin = await findBinaries();
    const inst = await TempInstance.create({ bin, workDir: testWorkDir(), name: 'tx' });
    await inst.start();
    await withClient(inst.connParams(), async (c) => {
      await c.query('create table t (x int)');
      await expect(withTransaction(c, async () => {
        await c.query('insert into t values (1)');
        throw new Error('boom');
      })).rejects.toThrow('boom');
      expect((await c.query('select count(*)::int as n from t')).rows[0].n).toBe(0);
    });
    await inst.destroy();
  });
});
