// The fault matrix, sources that are copies of a server: a snapshot taken on
// a standby (standby.signal, primary_conninfo pointing at a live primary), a
// snapshot of another major version whose programs are not installed, a
// delayed replica that already replayed the DROP, and a dump of the database
// named postgres. One small production (archiving, a plain base backup, a
// standby with a 1 s apply delay) serves every case.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveCommand } from '../../src/lab/layout.js';
import { findBinaries, type PgBinaries } from '../../src/postgres/binaries.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { copyTree, TempInstance } from '../../src/postgres/instance.js';
import { pgBasebackup } from '../../src/postgres/lab-programs.js';
import { chownForServer } from '../../src/postgres/os-user.js';
import { undrop } from '../cli.js';
import { expectFailedRun } from '../fault-checks.js';
import { testWorkDir, waitUntil } from '../helpers.js';

const base = mkdtempSync(join(testWorkDir(), 'fsrc-'));
chmodSync(base, 0o755);
const archive = join(base, 'archive');
const standbySnap = join(base, 'snap-standby', 'pgdata');
const oldSnap = join(base, 'snap-13', 'pgdata');
const cfg = join(base, 'undrop.yaml');
const ROWS = 2000;
let bin: PgBinaries;
let prod: TempInstance;
let standby: TempInstance;
/** Stands in for the primary a standby snapshot's primary_conninfo names: counts who connects. */
let fakePrimary: net.Server;
let fakePrimaryConnections = 0;
let truthSum: string;
/** Just before the DROP (what an on-call engineer passes as --incident-time). */
let incidentTime: string;

const sideSchemas = async (db = 'shop') => (await prod.query<{ n: string }>("SELECT nspname AS n FROM pg_namespace WHERE nspname LIKE 'undrop%'", [], db)).rows.map((r) => r.n);
const dropSideSchemas = async (db = 'shop') => {
  for (const s of await sideSchemas(db)) await prod.query(`DROP SCHEMA "${s}" CASCADE`, [], db);
};
const sumOf = async (inst: TempInstance, table: string, db = 'shop') => (await inst.query<{ s: string }>(`SELECT count(*) || ':' || sum(hashtext(t::text)) AS s FROM ${table} t`, [], db)).rows[0]!.s;

async function archiveNow(): Promise<void> {
  const seg = (await prod.query<{ w: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS w')).rows[0]!.w;
  await waitUntil(`segment ${seg} archived`, async () => ((await prod.query<{ w: string | null }>('SELECT last_archived_wal AS w FROM pg_stat_archiver')).rows[0]!.w ?? '') >= seg, { tries: 300, everyMs: 200 });
}

beforeAll(async () => {
  bin = await findBinaries();
  mkdirSync(archive);
  mkdirSync(join(base, 'base'));
  await chownForServer(archive);
  await chownForServer(join(base, 'base'));
  prod = await TempInstance.create({
    bin,
    workDir: testWorkDir(),
    name: 'fsrc-prod',
    dataChecksums: true,
    settings: { wal_level: 'replica', archive_mode: 'on', archive_command: archiveCommand(archive), max_wal_senders: 5, hot_standby: 'on' },
  });
  await prod.start();
  await prod.query('CREATE ROLE replicator WITH REPLICATION LOGIN');
  await prod.query('CREATE DATABASE shop');
  await prod.query(`CREATE TABLE parcels (id int PRIMARY KEY, note text); INSERT INTO parcels SELECT g, md5(g::text) FROM generate_series(1, ${ROWS}) g`, [], 'shop');
  // The database named postgres has an application table too (its dump is the last case).
  await prod.query('CREATE TABLE depots (id int PRIMARY KEY, city text); INSERT INTO depots SELECT g, $$city $$ || g FROM generate_series(1, 50) g');
  const c = prod.connParams('postgres');
  await execa(bin.path('pg_dump'), ['-Fc', '-h', c.host!, '-p', String(c.port), '-U', 'postgres', '-f', join(base, 'postgres.dump'), 'postgres']);
  chmodSync(join(base, 'postgres.dump'), 0o644);
  await prod.query('DROP TABLE depots');
  truthSum = await sumOf(prod, 'parcels');
  await pgBasebackup(bin, { host: prod.socketDir, port: prod.port, user: 'replicator', dir: join(base, 'base', 'b1'), format: 'plain' });

  // A standby with a short apply delay: it replays the DROP one second after it commits.
  const incoming = join(base, 'standby.incoming');
  await chownForServer(base, false);
  await pgBasebackup(bin, { host: prod.socketDir, port: prod.port, user: 'replicator', dir: incoming, format: 'plain', writeRecoveryConf: true });
  standby = await TempInstance.fromDataDir(incoming, {
    bin,
    workDir: testWorkDir(),
    name: 'fsrc-standby',
    copy: false,
    recovery: 'standby',
    settings: { hot_standby: 'on', recovery_min_apply_delay: '1s', primary_conninfo: `host=${prod.socketDir} port=${prod.port} user=replicator` },
  });
  await standby.start();
  const lsn = (await prod.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]!.l;
  await waitUntil('the standby replays the rows', async () => (await standby.query<{ ok: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [lsn])).rows[0]!.ok, { tries: 300, everyMs: 200 });

  // The standby's snapshot: crash-consistent (stopped hard), copied, started again.
  fakePrimary = net.createServer((s) => {
    fakePrimaryConnections++;
    s.destroy();
  });
  await new Promise<void>((r) => fakePrimary.listen(0, '127.0.0.1', r));
  await standby.stop('immediate');
  mkdirSync(join(base, 'snap-standby'));
  await copyTree(standby.dataDir, standbySnap);
  await standby.start();
  // As on a real standby, its configuration names the primary: here, a listener that counts connections.
  appendFileSync(join(standbySnap, 'postgresql.auto.conf'), `primary_conninfo = 'host=127.0.0.1 port=${(fakePrimary.address() as net.AddressInfo).port} user=replicator connect_timeout=2'\n`);
  // A snapshot of a PostgreSQL 13 server (no PostgreSQL 13 programs here).
  mkdirSync(join(base, 'snap-13'));
  await copyTree(standbySnap, oldSnap);
  writeFileSync(join(oldSnap, 'PG_VERSION'), '13\n');

  // The incident, a second later: the snapshots' newest WAL is older than it.
  await new Promise((r) => setTimeout(r, 1100));
  incidentTime = (await prod.query<{ t: Date }>('SELECT clock_timestamp() AS t')).rows[0]!.t.toISOString();
  await prod.query('DROP TABLE parcels', [], 'shop');
  const after = (await prod.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]!.l;
  await archiveNow();
  await waitUntil('the standby replays the DROP', async () => (await standby.query<{ ok: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [after])).rows[0]!.ok, { tries: 300, everyMs: 200 });

  const p = prod.connParams('shop');
  writeFileSync(
    cfg,
    `production:\n  dsn: "host=${p.host} port=${p.port} user=postgres dbname=shop"\nsources:\n` +
      `  - name: replica\n    kind: delayed-replica\n    dsn: "host=${standby.socketDir} port=${standby.port} user=postgres dbname=shop"\n` +
      `  - name: wal\n    kind: pitr\n    base_backups: ${join(base, 'base')}\n    wal_archive: ${archive}\n` +
      `  - name: standby-snap\n    kind: snapshot\n    paths: ["${standbySnap}"]\n` +
      `  - name: old13\n    kind: snapshot\n    paths: ["${oldSnap}"]\n`,
  );
}, 300_000);

afterAll(async () => {
  fakePrimary?.close();
  await standby?.destroy();
  await prod?.destroy();
  await runAllCleanups();
  rmSync(base, { recursive: true, force: true });
});

const recover = (work: string, args: string[], config = cfg) => undrop(['-c', config, '--work-dir', work, 'recover', '--yes', ...args], { timeoutMs: 600_000 });

describe('a delayed replica that already replayed the DROP', () => {
  it('probe --incident-time: unusable, and that is its first finding', async () => {
    const r = await undrop(['-c', cfg, '--json', 'probe', '--tables', 'parcels', '--incident-time', incidentTime], { timeoutMs: 300_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    const replica = doc.sources.find((s: any) => s.name === 'replica');
    expect(replica.status).toBe('unusable');
    expect(replica.findings[0], JSON.stringify(replica.findings)).toMatchObject({ level: 'error', code: 'REPLICA_PAST_INCIDENT' });
    expect(replica.findings[0].message).toMatch(/^The replica already replayed the incident \(\S+\): its replay is at .*, so the lost tables are gone there too\.$/);
    expect(doc.ranking[0]).not.toBe('replica');
    // the human screen names it on the replica's line
    const text = await undrop(['-c', cfg, 'probe', '--tables', 'parcels', '--incident-time', incidentTime], { timeoutMs: 300_000 });
    expect(text.stderr + text.stdout).toMatch(/\d+\s+replica\s+delayed-replica\s+UNUSABLE[^\n]*\n(?:[^\n]*\n)?\s+reason: The replica already replayed the incident/);
  });

  it('recover --source replica: exit 1, the replica named unusable first, nothing written, nothing left, report written', async () => {
    const work = join(base, 'work-replica');
    const r = await recover(work, ['--tables', 'parcels', '--source', 'replica']);
    await expectFailedRun(r, { exitCode: 1, code: 'SOURCE_UNUSABLE', message: /^Source replica is unusable: The replica already replayed the incident/, hint: /Run `undrop probe` and choose a usable source/, work, sideSchemas: () => sideSchemas() });
    expect(r.stderr).toMatch(/Warning: replica is unusable: The replica already replayed the incident[^\n]*Too late for this replica: use a backup-based source/);
    expect(r.stderr.indexOf('Warning: replica is unusable')).toBeLessThan(r.stderr.indexOf('error [SOURCE_UNUSABLE]'));
    // undrop paused it first (seconds matter before the target is known); now it says pausing saved nothing
    expect(r.stderr).toMatch(/replica had already replayed the incident before it was paused: keeping it paused saves nothing, resume it/);
  });

  it('recover --source auto: says so before choosing, goes on with another source, rows back', async () => {
    const work = join(base, 'work-auto');
    const r = await recover(work, ['--tables', 'parcels', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const said = r.stderr.indexOf('Warning: replica is unusable: The replica already replayed the incident');
    expect(said, r.stderr).toBeGreaterThan(-1);
    expect(said).toBeLessThan(r.stderr.indexOf('Source: '));
    const doc = JSON.parse(r.stdout);
    expect(doc.source).not.toBe('replica');
    expect(await sumOf(prod, `${doc.schema}.parcels`)).toBe(truthSum);
    await dropSideSchemas();
  });
});

describe('a snapshot taken on a standby (standby.signal, primary_conninfo)', () => {
  it('probe: usable, marked as a standby\'s snapshot', async () => {
    const r = await undrop(['-c', cfg, '--json', 'probe', '--tables', 'parcels'], { timeoutMs: 300_000 });
    const snap = JSON.parse(r.stdout).sources.find((s: any) => s.name === 'standby-snap');
    expect(snap.status, JSON.stringify(snap.findings)).not.toBe('unusable');
    expect(snap.findings.map((f: any) => f.code)).toEqual(expect.arrayContaining(['STANDBY_SNAPSHOT', 'STANDBY_STATE']));
  });

  it('recover: started as a standalone copy (never connects to the primary it names), every row back', async () => {
    const work = join(base, 'work-snap');
    const before = fakePrimaryConnections;
    const r = await recover(work, ['--tables', 'parcels', '--source', 'standby-snap', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(await sumOf(prod, `${doc.schema}.parcels`)).toBe(truthSum);
    expect(fakePrimaryConnections - before, 'connections to the primary named in the snapshot').toBe(0);
    // the source's primary_conninfo was set aside, and the report says so
    expect(r.stderr).toMatch(/primary_conninfo/);
    await dropSideSchemas();
  });
});

describe('a snapshot of another major version whose programs are not installed', () => {
  it('probe: unusable, naming the version and the package', async () => {
    const r = await undrop(['-c', cfg, '--json', 'probe', '--tables', 'parcels'], { timeoutMs: 300_000 });
    const old = JSON.parse(r.stdout).sources.find((s: any) => s.name === 'old13');
    expect(old.status).toBe('unusable');
    expect(old.findings.find((f: any) => f.level === 'error')).toMatchObject({ code: 'SERVER_PROGRAMS_MISSING', hint: expect.stringMatching(/Install postgresql-13/) });
  });

  it('recover --source old13: exit 2 naming PostgreSQL 13 and the package to install; nothing written, nothing left', async () => {
    const work = join(base, 'work-13');
    const r = await recover(work, ['--tables', 'parcels', '--source', 'old13']);
    await expectFailedRun(r, {
      exitCode: 2,
      code: 'PG_VERSION_MISSING',
      message: /^Source old13: \S+pgdata: The snapshot is PostgreSQL 13, and no PostgreSQL 13 server programs are installed here\.$/,
      hint: /Install them \(Debian\/Ubuntu: apt-get install postgresql-13; RHEL: dnf install postgresql13-server\)/,
      work,
      sideSchemas: () => sideSchemas(),
    });
  });
});

describe('a dump of the database named postgres', () => {
  it('recover restores into the temporary instance\'s own postgres database: exit 0, every row back', async () => {
    const c = prod.connParams('postgres');
    const pgCfg = join(base, 'postgres-db.yaml');
    writeFileSync(pgCfg, `production:\n  dsn: "host=${c.host} port=${c.port} user=postgres dbname=postgres"\nsources:\n  - name: nightly\n    kind: dump\n    paths: ["${join(base, 'postgres.dump')}"]\n`);
    const r = await recover(join(base, 'work-pgdb'), ['--tables', 'depots', '--source', 'nightly', '--target', 'latest', '--json'], pgCfg);
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect((await prod.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${doc.schema}.depots`)).rows[0]!.n).toBe('50');
    await dropSideSchemas('postgres');
  });
});
