// The fault matrix, production's connection: production accepts TLS only
// (self-signed CA, a server certificate for "localhost", client certificates
// for one role, scram passwords for another, everything else without TLS
// rejected), listening on 127.0.0.1 for this test alone. undrop's own
// connections (node-postgres: check, copy back, verify) must set TLS up as
// libpq does (sslmode, sslrootcert/sslcert/sslkey from the DSN, PG*
// environment or a pg_service.conf service), and a wrong password given
// while ~/.pgpass holds the right one must be explained, not just refused.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBinaries } from '../../src/postgres/binaries.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { chownForServer } from '../../src/postgres/os-user.js';
import { TempInstance } from '../../src/postgres/instance.js';
import { cliArgs } from '../cli.js';
import { testWorkDir } from '../helpers.js';

const base = join(testWorkDir(), `tls-${process.pid}`);
const certs = join(base, 'certs');
const emptyHome = join(base, 'home');
const ROWS = 2000;
const PASSWORD = 'right-0ne-Pw';
let prod: TempInstance;
let dump: string;
let truth: { n: number; sum: string };

function openssl(args: string[]) {
  execFileSync('openssl', args, { stdio: 'pipe' });
}

/** A CA, and certificates it signs: the server's (for DNS name localhost only) and the client role app's. */
function makeCerts() {
  mkdirSync(certs, { recursive: true });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const f = (n: string) => join(certs, n);
  for (const ca of ['ca', 'other-ca']) openssl(['req', '-x509', ...ec, '-keyout', f(`${ca}.key`), '-out', f(`${ca}.crt`), '-days', '2', '-subj', `/CN=undrop test ${ca}`]);
  writeFileSync(f('server.ext'), 'subjectAltName=DNS:localhost\n');
  const sign = (name: string, cn: string, ext?: string) => {
    openssl(['req', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`]);
    openssl(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${name}.crt`), '-days', '2', ...(ext ? ['-extfile', ext] : [])]);
  };
  sign('server', 'localhost', f('server.ext'));
  sign('client', 'app');
  // libpq refuses a client key that others can read
  chmodSync(f('client.key'), 0o600);
}

beforeAll(async () => {
  mkdirSync(emptyHome, { recursive: true });
  makeCerts();
  const bin = await findBinaries();
  prod = await TempInstance.create({
    bin,
    workDir: testWorkDir(),
    name: 'tls-prod',
    noSync: true,
    tcp: true,
    settings: { ssl: 'on', ssl_cert_file: 'server.crt', ssl_key_file: 'server.key', ssl_ca_file: 'ca.crt' },
  });
  for (const n of ['server.crt', 'server.key', 'ca.crt']) writeFileSync(join(prod.dataDir, n), readFileSync(join(certs, n)));
  chmodSync(join(prod.dataDir, 'server.key'), 0o600);
  // TLS or nothing over TCP: client certificates for app, passwords for pwuser.
  writeFileSync(join(prod.dataDir, 'undrop_hba.conf'), 'local all all trust\nhostssl all app 127.0.0.1/32 cert\nhostssl all pwuser 127.0.0.1/32 scram-sha-256\nhostnossl all all 0.0.0.0/0 reject\n');
  await chownForServer(prod.dataDir);
  await prod.start();
  await prod.query(`CREATE ROLE app LOGIN; CREATE ROLE pwuser LOGIN PASSWORD '${PASSWORD}'; GRANT CREATE ON DATABASE postgres TO app, pwuser;
    CREATE TABLE parcels (id int PRIMARY KEY, note text); INSERT INTO parcels SELECT g, md5(g::text) FROM generate_series(1, ${ROWS}) g`);
  truth = (await prod.query<{ n: number; sum: string }>("SELECT count(*)::int AS n, md5(string_agg(id || ':' || note, ',' ORDER BY id)) AS sum FROM parcels")).rows[0]!;
  dump = join(base, 'nightly.dump');
  const c = prod.connParams('postgres');
  await execa(join(bin.dir, 'pg_dump'), ['-Fc', '-h', c.host!, '-p', String(c.port), '-U', c.user ?? 'postgres', '-f', dump, 'postgres']);
  chmodSync(dump, 0o644);
  await prod.query('DROP TABLE parcels');
}, 120_000);

afterAll(async () => {
  await prod?.destroy();
  await runAllCleanups();
  rmSync(base, { recursive: true, force: true });
});

let runs = 0;
/** undrop recover from the dump into side schema tls_N, production reached with `dsn` (none: the environment decides). */
async function recover(dsn: string | undefined, env: Record<string, string> = {}) {
  const schema = `tls_${++runs}`;
  const cfg = join(base, `undrop-${runs}.yaml`);
  writeFileSync(cfg, `${dsn === undefined ? '' : `production:\n  dsn: "${dsn}"\n`}sources:\n  - name: nightly\n    kind: dump\n    paths: ["${dump}"]\n`);
  // HOME without ~/.postgresql and ~/.pgpass unless a test says otherwise; no PG* from the caller.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG')));
  const r = await execa(process.execPath, cliArgs(['-c', cfg, '--work-dir', join(base, 'work'), 'recover', '--tables', 'parcels', '--source', 'nightly', '--target', 'latest', '--schema', schema, '--yes']), {
    reject: false,
    stdin: 'ignore',
    timeout: 300_000,
    env: { ...clean, HOME: emptyHome, ...env },
    extendEnv: false,
  });
  return { ...r, schema };
}

async function recovered(schema: string) {
  return (await prod.query<{ n: number; sum: string }>(`SELECT count(*)::int AS n, md5(string_agg(id || ':' || note, ',' ORDER BY id)) AS sum FROM ${schema}.parcels`)).rows[0];
}
const sideSchemas = async () => (await prod.query<{ n: string }>("SELECT nspname AS n FROM pg_namespace WHERE nspname LIKE 'tls_%' ORDER BY 1")).rows.map((r) => r.n);
const port = () => prod.port;
const f = (n: string) => join(certs, n);

describe('production over TLS (a real server with a self-signed CA, TLS only)', () => {
  it('sslmode=verify-full with sslrootcert, sslcert and sslkey in the DSN: the client certificate logs in, the copy back and verify run over TLS, rows equal', async () => {
    const r = await recover(`host=localhost port=${port()} user=app dbname=postgres sslmode=verify-full sslrootcert=${f('ca.crt')} sslcert=${f('client.crt')} sslkey=${f('client.key')}`);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await recovered(r.schema)).toEqual(truth);
  });

  it('the same certificates from PGSSLMODE, PGSSLROOTCERT, PGSSLCERT and PGSSLKEY (no keyword in the DSN): rows equal', async () => {
    const r = await recover(`host=localhost port=${port()} user=app dbname=postgres`, { PGSSLMODE: 'verify-ca', PGSSLROOTCERT: f('ca.crt'), PGSSLCERT: f('client.crt'), PGSSLKEY: f('client.key') });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await recovered(r.schema)).toEqual(truth);
  });

  it('refusals as libpq refuses: no TLS (pg_hba rejects), verify-full against a name the certificate lacks, require with another CA as root certificate; exit 2 (bad input), the cause named, nothing written', async () => {
    const before = await sideSchemas();
    const userPart = `user=app dbname=postgres sslcert=${f('client.crt')} sslkey=${f('client.key')}`;
    const noTls = await recover(`host=127.0.0.1 port=${port()} ${userPart} sslmode=disable`);
    expect(noTls.exitCode, noTls.stderr).toBe(2);
    expect(noTls.stderr).toMatch(/error \[AUTH_FAILED\]: PostgreSQL refused the login \(127\.0\.0\.1:\d+ as user app, database postgres\): .*no encryption/);
    // the server certificate names localhost only: verify-full to 127.0.0.1 is refused (verify-ca is not)
    const wrongName = await recover(`host=127.0.0.1 port=${port()} ${userPart} sslmode=verify-full sslrootcert=${f('ca.crt')}`);
    expect(wrongName.exitCode, wrongName.stderr).toBe(2);
    expect(wrongName.stderr).toMatch(/error \[TLS_VERIFY_FAILED\]: .*127\.0\.0\.1.*(not in the cert|does not match)/i);
    const byChain = await recover(`host=127.0.0.1 port=${port()} ${userPart} sslmode=verify-ca sslrootcert=${f('ca.crt')}`);
    expect(byChain.exitCode, byChain.stderr).toBe(0);
    // require verifies the chain when a root certificate is given: another CA's is refused
    const otherCa = await recover(`host=localhost port=${port()} ${userPart} sslmode=require sslrootcert=${f('other-ca.crt')}`);
    expect(otherCa.exitCode, otherCa.stderr).toBe(2);
    expect(otherCa.stderr).toMatch(/error \[TLS_VERIFY_FAILED\]: .*certificate/i);
    expect(otherCa.stderr).toMatch(/^HINT: .*sslrootcert/m);
    for (const x of [noTls, wrongName, otherCa]) expect(x.stderr).not.toMatch(/INTERNAL|at .*\.ts:\d+/);
    expect(await sideSchemas()).toEqual([...before, byChain.schema].sort());
  });

  it('sslmode=require without any root certificate encrypts without verifying (libpq does the same); rows equal', async () => {
    const r = await recover(`host=127.0.0.1 port=${port()} user=pwuser dbname=postgres sslmode=require password=${PASSWORD}`);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await recovered(r.schema)).toEqual(truth);
    expect(`${r.stdout}${r.stderr}`).not.toContain(PASSWORD);
  });
});

describe('production passwords: .pgpass and PGSERVICE', () => {
  it('a wrong password in the DSN while ~/.pgpass holds the right one: exit 2, the password not shown, and the hint says .pgpass was not read because a password was given', async () => {
    const pgpass = join(base, 'pgpass');
    writeFileSync(pgpass, `127.0.0.1:${port()}:postgres:pwuser:${PASSWORD}\n`, { mode: 0o600 });
    const before = await sideSchemas();
    const r = await recover(`host=127.0.0.1 port=${port()} user=pwuser dbname=postgres sslmode=require password=not-the-one`, { PGPASSFILE: pgpass });
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/error \[AUTH_FAILED\]: PostgreSQL refused the login \(127\.0\.0\.1:\d+ as user pwuser, database postgres\): password authentication failed/);
    expect(r.stderr).toMatch(/^HINT: A password was given .*, so the password file \S+pgpass, which has an entry for this server and user, was not read/m);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/not-the-one|right-0ne/);
    expect(await sideSchemas()).toEqual(before);
    // without the wrong one, the .pgpass entry is used: rows back
    const ok = await recover(`host=127.0.0.1 port=${port()} user=pwuser dbname=postgres sslmode=require`, { PGPASSFILE: pgpass });
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(await recovered(ok.schema)).toEqual(truth);
  });

  it('PGSERVICE alone (no DSN in undrop.yaml): host, port, user, sslmode and the certificates come from pg_service.conf; rows equal', async () => {
    const services = join(base, 'pg_service.conf');
    writeFileSync(services, `[shop-prod]\nhost=localhost\nport=${port()}\nuser=app\ndbname=postgres\nsslmode=verify-full\nsslrootcert=${f('ca.crt')}\nsslcert=${f('client.crt')}\nsslkey=${f('client.key')}\n`);
    const r = await recover(undefined, { PGSERVICE: 'shop-prod', PGSERVICEFILE: services });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await recovered(r.schema)).toEqual(truth);
  });
});
