import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { findBinaries } from '../../src/postgres/binaries.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { withClient } from '../../src/postgres/connect.js';
import { templateName } from '../../src/postgres/initdb-template.js';
import { readPostmasterPid, TempInstance } from '../../src/postgres/instance.js';
import { alive } from '../../src/postgres/process-tree.js';
import { findFreePort, isPortFree } from '../../src/postgres/ports.js';
import { testWorkDir } from '../helpers.js';

afterAll(() => runAllCleanups());

describe('temporary instances (real PostgreSQL)', () => {
  it('creates from scratch, answers a query, listens on a private socket only, and is fully removed', async () => {
    const bin = await findBinaries();
    const inst = await TempInstance.create({ bin, workDir: testWorkDir(), name: 'scratch' });
    await inst.start();
    const r = await inst.query<{ one: number; la: string; am: string }>("select 1 as one, current_setting('listen_addresses') as la, current_setting('archive_mode') as am");
    expect(r.rows[0]).toEqual({ one: 1, la: '', am: 'off' });
    // the port is taken in its private socket dir, and nothing listens on TCP
    expect(await isPortFree(inst.port, [inst.socketDir])).toBe(false);
    expect(await isPortFree(inst.port)).toBe(true);
    const root = inst.root;
    await inst.destroy();
    expect(existsSync(root)).toBe(false);
    expect(existsSync(inst.socketDir)).toBe(false);
  });

  it('throwaway instances copy the work directory\'s empty cluster: made once by initdb, left unchanged, each copy its own', async () => {
    const bin = await findBinaries();
    const workDir = mkdtempSync(join(testWorkDir(), 'tmpl-'));
    const a = await TempInstance.create({ bin, workDir, name: 'tmpl-a', throwaway: true });
    const [made] = readdirSync(join(workDir, 'templates'));
    expect(made).toBe(templateName(bin, {}));
    const template = join(workDir, 'templates', made!, 'data');
    const before = readdirSync(join(template, 'base')).sort();
    const b = await TempInstance.create({ bin, workDir, name: 'tmpl-b', throwaway: true });
    await Promise.all([a.start(), b.start()]);
    await a.query('create table only_in_a as select g from generate_series(1, 1000) g');
    expect((await a.query<{ n: string }>('select count(*) as n from only_in_a')).rows[0]!.n).toBe('1000');
    expect((await b.query<{ r: string | null }>("select to_regclass('only_in_a')::text as r")).rows[0]!.r).toBeNull();
    // both are ordinary clusters under undrop's settings; the template never ran
    expect((await b.query<{ am: string }>("select current_setting('archive_mode') as am")).rows[0]!.am).toBe('off');
    expect(existsSync(join(template, 'postmaster.pid'))).toBe(false);
    expect(readdirSync(join(template, 'base')).sort()).toEqual(before);
    expect(readdirSync(join(workDir, 'templates'))).toEqual([made]);
    // other initdb options: another template
    expect(templateName(bin, { superuser: 'other' })).not.toBe(made);
    expect(templateName(bin, { dataChecksums: true })).not.toBe(made);
    await Promise.all([a.destroy(), b.destroy()]);
    expect(existsSync(template)).toBe(true);
    rmSync(workDir, { recursive: true, force: true });
  });

  it('a crashed instance whose postmaster.pid now names another process: removed, and that process never signalled', async () => {
    const bin = await findBinaries();
    const inst = await TempInstance.create({ bin, workDir: testWorkDir(), name: 'stale-pid' });
    await inst.start();
    const postmaster = readPostmasterPid(inst.dataDir)!;
    process.kill(postmaster, 'SIGKILL'); // a crash: postmaster.pid stays behind
    for (let i = 0; i < 100 && alive(postmaster); i++) await new Promise((r) => setTimeout(r, 50));
    // the pid reused by an unrelated process (undrop's own user's: as root it could signal anything)
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const pidFile = join(inst.dataDir, 'postmaster.pid');
      const lines = readFileSync(pidFile, 'utf8').split('\n');
      lines[0] = String(other.pid);
      writeFileSync(pidFile, lines.join('\n'));
      const root = inst.root;
      await inst.destroy();
      expect(existsSync(root)).toBe(false);
      expect(alive(other.pid!)).toBe(true);
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('starts a copy of a running cluster\'s data directory and leaves the original untouched', async () => {
    const bin = await findBinaries();
    const orig = await TempInstance.create({ bin, workDir: testWorkDir(), name: 'orig' });
    await orig.start();
    await orig.query('create table t as select g from generate_series(1,1000) g');
    await orig.query('checkpoint');
    const copy = await TempInstance.fromDataDir(orig.dataDir, { bin, workDir: testWorkDir(), name: 'copy' });
    await copy.start();
    const r = await copy.query<{ n: string }>('select count(*) as n from t');
    expect(r.rows[0]!.n).toBe('1000');
    // the original still runs, on its own port
    expect((await orig.query('select 1 as x')).rows[0].x).toBe(1);
    expect(copy.port).not.toBe(orig.port);
    await copy.destroy();
    await orig.destroy();
  });

  it('gives two instances started at once different ports', async () => {
    const bin = await findBinaries();
    const [a, b] = await Promise.all([
      TempInstance.create({ bin, workDir: testWorkDir(), name: 'a' }),
      TempInstance.create({ bin, workDir: testWorkDir(), name: 'b' }),
    ]);
    await Promise.all([a.start(), b.start()]);
    expect(a.port).not.toBe(b.port);
    await Promise.all([a.destroy(), b.destroy()]);
  });
});

describe('ports', () => {
  it('skips an occupied port', async () => {
    const srv = net.createServer();
    const port = await new Promise<number>((res) => srv.listen(0, '127.0.0.1', () => res((srv.address() as net.AddressInfo).port)));
    try {
      const got = await findFreePort({ preferred: port });
      expect(got).not.toBe(port);
    } finally {
      srv.close();
    }
  });

  it('moves to another port when the chosen one is taken on 127.0.0.1 between the choice and the start (tcp), and answers there', async () => {
    const bin = await findBinaries();
    const inst = await TempInstance.create({ bin, workDir: testWorkDir(), name: 'tcp-race', tcp: true });
    const chosen = inst.port;
    // Another program takes the chosen port after undrop checked it was free.
    const squatter = net.createServer();
    await new Promise<void>((res, rej) => squatter.once('error', rej).listen({ port: chosen, host: '127.0.0.1', exclusive: true }, () => res()));
    try {
      await inst.start(60);
      expect(inst.port).not.toBe(chosen);
      // reachable on TCP at the new port, and the server agrees which port it has
      await withClient({ host: '127.0.0.1', port: inst.port, user: inst.connParams().user, database: 'postgres' }, async (c) => {
        const r = await c.query<{ port: string; la: string }>("select current_setting('port') as port, current_setting('listen_addresses') as la");
        expect(r.rows[0]).toEqual({ port: String(inst.port), la: '127.0.0.1' });
      });
      // the squatter still holds its port: undrop never took it over
      expect(await isPortFree(chosen)).toBe(false);
    } finally {
      squatter.close();
      await inst.destroy();
    }
  });
});
