// The fault matrix, sources: a delayed replica that does not answer (a
// socket that accepts and then says nothing, as a host behind a dead route
// or a hung server does). Its probe gives up within its timeout and says so;
// the other sources are probed and ranked as usual, and the run goes on.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBinaries } from '../../src/postgres/binaries.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { TempInstance } from '../../src/postgres/instance.js';
import { undrop } from '../cli.js';
import { testWorkDir } from '../helpers.js';

const base = join(testWorkDir(), `sources-${process.pid}`);
let prod: TempInstance;
let silent: net.Server;
let cfg: string;

beforeAll(async () => {
  mkdirSync(base, { recursive: true });
  const bin = await findBinaries();
  prod = await TempInstance.create({ bin, workDir: testWorkDir(), name: 'sources-prod', noSync: true });
  await prod.start();
  await prod.query('CREATE DATABASE shop');
  await prod.query('CREATE TABLE parcels (id int PRIMARY KEY); INSERT INTO parcels SELECT generate_series(1, 100)', [], 'shop');
  const c = prod.connParams('shop');
  const dump = join(base, 'nightly.dump');
  await execa(join(bin.dir, 'pg_dump'), ['-Fc', '-h', c.host!, '-p', String(c.port), '-U', c.user ?? 'postgres', '-f', dump, 'shop']);
  // Accepts connections and never answers.
  silent = net.createServer(() => {});
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as net.AddressInfo).port;
  cfg = join(base, 'undrop.yaml');
  writeFileSync(
    cfg,
    `production:\n  dsn: "host=${c.host} port=${c.port} user=${c.user ?? 'postgres'} dbname=shop"\nsources:\n` +
      `  - name: replica-4h\n    kind: delayed-replica\n    dsn: "host=127.0.0.1 port=${port} user=postgres dbname=postgres"\n    timeout: 8s\n` +
      `  - name: nightly\n    kind: dump\n    paths: ["${dump}"]\n`,
  );
}, 120_000);

afterAll(async () => {
  silent?.close();
  await prod?.destroy();
  await runAllCleanups();
  rmSync(base, { recursive: true, force: true });
});

describe('an unreachable delayed replica', () => {
  it('probe: the replica is unusable with a timeout that names it; the dump is probed and ranked; exit 0 (exit 3 with --strict)', async () => {
    const r = await undrop(['-c', cfg, '--json', 'probe', '--tables', 'parcels']);
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    const replica = doc.sources.find((s: any) => s.name === 'replica-4h');
    expect(replica.status).toBe('unusable');
    const err = replica.findings.find((f: any) => f.level === 'error');
    expect(err.message, JSON.stringify(replica.findings)).toMatch(/timeout|did not (answer|finish)|timed out/i);
    expect(doc.sources.find((s: any) => s.name === 'nightly').status).not.toBe('unusable');
    expect(doc.ranking[0]).toBe('nightly');
    const strict = await undrop(['-c', cfg, 'probe', '--strict']);
    expect(strict.exitCode).toBe(3);
  });

  it('recover --source auto goes on with the dump; the replica could not be paused, and the run says so', async () => {
    const work = join(base, 'work');
    const r = await undrop(['-c', cfg, '--work-dir', work, 'recover', '--tables', 'parcels', '--target', 'latest', '--yes']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Source: nightly \(dump\)/);
    // said at once, before the long step: the replica may still be replaying toward the incident
    expect(r.stderr).toMatch(/Warning: Could NOT pause delayed replica replica-4h: .*pause it by hand now \(psql "host=127\.0\.0\.1 port=\d+ user=postgres dbname=postgres" -c "select pg_wal_replay_pause\(\);"\)/);
    expect(r.stderr.indexOf('Could NOT pause')).toBeLessThan(r.stderr.indexOf('Extracting the tables'));
  });
});
