// The fault matrix, production's disk: the database the tables go back into
// lives in a tablespace on a small tmpfs (its pg_wal on another volume, as
// production layouts often have it). Too small from the start: copy back is
// refused before the copy transaction, with what it writes (table data +
// indexes) against what is free. Filled while copy back runs (a filler
// written while its CREATE TABLE waits on an advisory lock the test holds,
// through an event trigger, so the timing is fixed): PRODUCTION_DISK_FULL with the same figures, the transaction
// rolled back. Both: exit 1, production unchanged (live table, schemas, the
// tablespace's files), no temporary instance left, the incident report
// written. Needs root (mount); skipped otherwise.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBinaries } from '../../src/postgres/binaries.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { connect } from '../../src/postgres/connect.js';
import { TempInstance } from '../../src/postgres/instance.js';
import { cliArgs } from '../cli.js';
import { testWorkDir, waitUntil } from '../helpers.js';

const root = process.getuid?.() === 0;
const base = join(testWorkDir(), `pdisk-${process.pid}`);
const mnt = join(base, 'mnt');
const ts = join(mnt, 'ts');
const work = join(base, 'work');
const MB = 1024 * 1024;
let prod: TempInstance;
let cfg: string;

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: 'pipe' }).toString();
const usedBytes = () => Number(sh('df', ['-B1', '--output=used', mnt]).split('\n')[1]);
const resize = (bytes: number) => sh('mount', ['-o', `remount,size=${Math.ceil(bytes / 4096) * 4096}`, mnt]);
// user relations' files only (relfilenode from 16384 on): catalogs may grow a map file on their own
const tsFiles = () => sh('find', [ts, '-type', 'f']).split('\n').filter((f) => Number(/\/(\d+)[^/]*$/.exec(f)?.[1] ?? 0) >= 16384).sort();
const shop = () => prod.connParams('shop');
const q = async <T extends pg.QueryResultRow>(sql: string) => (await prod.query<T>(sql, [], 'shop')).rows;
const live = async () => (await q<{ n: number; sum: string }>("SELECT count(*)::int AS n, md5(string_agg(id || ':' || note, ',' ORDER BY id)) AS sum FROM parcels"))[0];
const schemas = async () => (await q<{ n: string }>("SELECT nspname AS n FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1")).map((r) => r.n);
const leftovers = () => (existsSync(join(work, 'instances')) ? readdirSync(join(work, 'instances')) : []);

beforeAll(async () => {
  if (!root) return;
  mkdirSync(mnt, { recursive: true });
  chmodSync(base, 0o755);
  const bin = await findBinaries();
  prod = await TempInstance.create({ bin, workDir: testWorkDir(), name: 'pdisk-prod', noSync: true });
  await prod.start();
  // the tablespace's filesystem: 64 MB, the server user's
  const uid = sh('id', ['-u', 'postgres']).trim();
  sh('mount', ['-t', 'tmpfs', '-o', `size=64m,mode=0700,uid=${uid},gid=${uid}`, 'tmpfs', mnt]);
  sh('runuser', ['-u', 'postgres', '--', 'mkdir', ts]);
  await prod.query(`CREATE TABLESPACE small LOCATION '${ts}'`);
  await prod.query('CREATE DATABASE shop TABLESPACE small');
  // About 30 MB of table data and indexes before the incident.
  await prod.query("CREATE TABLE parcels (id int PRIMARY KEY, note text); INSERT INTO parcels SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 150000) g", [], 'shop');
  const dump = join(base, 'nightly.dump');
  const c = shop();
  await execa(join(bin.dir, 'pg_dump'), ['-Fc', '-h', c.host!, '-p', String(c.port), '-U', c.user ?? 'postgres', '-f', dump, 'shop']);
  chmodSync(dump, 0o644);
  // the incident: dropped and recreated; the application wrote a few rows since
  await prod.query("DROP TABLE parcels; CREATE TABLE parcels (id int PRIMARY KEY, note text); INSERT INTO parcels VALUES (1, 'after'), (2, 'the'), (3, 'incident')", [], 'shop');
  // A test device: a session holding advisory lock 4242 stops any CREATE TABLE in shop until it lets go (copy back's tables are created after its disk pre-check).
  await prod.query(`CREATE FUNCTION hold_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock(4242); END $$;
    CREATE EVENT TRIGGER hold_ddl ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION hold_ddl()`, [], 'shop');
  // the dropped table's files go at the next checkpoint: before the tests list the tablespace
  await prod.query('CHECKPOINT');
  cfg = join(base, 'undrop.yaml');
  writeFileSync(cfg, `production:\n  dsn: "host=${c.host} port=${c.port} user=${c.user ?? 'postgres'} dbname=shop"\nsources:\n  - name: nightly\n    kind: dump\n    paths: ["${dump}"]\n`);
}, 180_000);

afterAll(async () => {
  await prod?.destroy();
  try {
    sh('umount', [mnt]);
  } catch {
    /* not mounted */
  }
  await runAllCleanups();
  rmSync(base, { recursive: true, force: true });
});

const run = (schema: string) =>
  execa(process.execPath, cliArgs(['-c', cfg, '--work-dir', work, 'recover', '--tables', 'parcels', '--source', 'nightly', '--target', 'latest', '--schema', schema, '--yes']), { reject: false, stdin: 'ignore', timeout: 300_000 });

/** The incident report the run names, read back. */
function report(stderr: string): string {
  const path = /Incident report: (\S+report\.md)/.exec(stderr)?.[1];
  expect(path, stderr).toBeDefined();
  return readFileSync(path!, 'utf8');
}

const size = (s: string) => {
  const [n, unit] = s.split(' ');
  return Number(n) * ({ B: 1, kB: 1024, MB: MB, GB: 1024 * MB } as Record<string, number>)[unit!]!;
};

describe.skipIf(!root)("production's disk runs out during copy back", () => {
  it('too small from the start: refused before the copy transaction, naming what copy back writes (table data + indexes) against what is free; production unchanged', async () => {
    const before = { live: await live(), schemas: await schemas(), files: tsFiles() };
    resize(usedBytes() + 10 * MB);
    try {
      const r = await run('side_a');
      expect(r.exitCode, r.stderr).toBe(1);
      const m = /error \[PRODUCTION_DISK_SPACE\]: (.*)/.exec(r.stderr)?.[1];
      expect(m, r.stderr).toMatch(/^Copy back writes about ([\d.]+ MB) \(([\d.]+ MB) of table data \+ ([\d.]+ (kB|MB)) of indexes\) into production, on the filesystem of \S+ \(the database's default tablespace\), but only ([\d.]+ MB) is free there \(([\d.]+ MB) short\)\. Nothing was written\.$/);
      const [, need, data, indexes, free, short] = /about ([\d.]+ MB) \(([\d.]+ MB) of table data \+ ([\d.]+ \w+) of indexes\).* only ([\d.]+ MB) is free there \(([\d.]+ MB) short\)/.exec(m!)!.map(String);
      // the figures agree with each other and with the source (about 30 MB of rows and keys)
      expect(size(need!)).toBeGreaterThan(size(free!));
      expect(Math.abs(size(data!) + size(indexes!) - size(need!))).toBeLessThan(0.2 * MB);
      expect(Math.abs(size(need!) - size(free!) - size(short!))).toBeLessThan(0.2 * MB);
      expect(size(need!)).toBeGreaterThan(20 * MB);
      expect(r.stderr).toMatch(/^HINT: Free space there first, or copy fewer tables per run \(--tables\)\./m);
      expect(r.stderr).not.toMatch(/INTERNAL|at .*\.ts:\d+/);
      expect(report(r.stderr)).toContain('PRODUCTION_DISK_SPACE');
      console.log(r.stderr.split('\n').filter((l) => /^undrop: error|^HINT/.test(l)).join('\n'));
      expect({ live: await live(), schemas: await schemas(), files: tsFiles() }).toEqual(before);
      expect(leftovers()).toEqual([]);
    } finally {
      resize(64 * MB);
    }
  });

  it('filled while copy back runs (after the pre-check passed): PRODUCTION_DISK_FULL with the table, what was written, what it needs and what is free; rolled back, nothing published, production unchanged', async () => {
    const before = { live: await live(), schemas: await schemas(), files: tsFiles() };
    // Copy back's tables wait to be created (after its disk pre-check passed) while the disk fills.
    const blocker = await connect(shop());
    await blocker.query('SELECT pg_advisory_lock(4242)');
    const child = run('side_b');
    try {
      await waitUntil(
        "copy back's CREATE TABLE waiting on the held advisory lock",
        async () => {
          if (child.exitCode !== null) throw new Error(`the run ended first: ${(await child).stderr}`);
          return (await q("SELECT 1 FROM pg_stat_activity WHERE application_name = 'undrop copy back' AND wait_event = 'advisory'")).length > 0;
        },
        { tries: 600, everyMs: 200 },
      );
      // fill the tablespace's filesystem but 2 MB: the tables are created, their rows run out of room
      const avail = Number(sh('df', ['-B1', '--output=avail', mnt]).split('\n')[1]);
      await execa('dd', ['if=/dev/zero', `of=${join(mnt, 'filler')}`, 'bs=1M', `count=${Math.floor(avail / MB) - 2}`]);
    } finally {
      await blocker.query('SELECT pg_advisory_unlock(4242)');
      await blocker.end();
    }
    const r = await child;
    rmSync(join(mnt, 'filler'), { force: true });
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /error \[PRODUCTION_DISK_FULL\]: Production ran out of disk space during copy back \(while copying public\.parcels, after [\d.]+ (kB|MB) of its rows\), of the about [\d.]+ MB \([\d.]+ MB of table data \+ [\d.]+ (kB|MB) of indexes\) it writes, on the filesystem of \S+ \(the database's default tablespace; free now, after the rollback: [\d.]+ (B|kB|MB)\)\. PostgreSQL rolled the copy back: nothing was published\./,
    );
    // PostgreSQL's own words stay visible under the message
    expect(r.stderr).toMatch(/could not extend file/);
    expect(r.stderr).toMatch(/^HINT: .*df -h/m);
    expect(r.stderr).not.toMatch(/INTERNAL|at .*\.ts:\d+/);
    expect(report(r.stderr)).toContain('PRODUCTION_DISK_FULL');
    // the rollback truncated the new files to nothing (PostgreSQL unlinks them at the next checkpoint)
    const added = tsFiles().filter((f) => !before.files.includes(f));
    expect(added.map((f) => [f, statSync(f).size]).filter(([, n]) => n !== 0)).toEqual([]);
    await prod.query('CHECKPOINT');
    expect({ live: await live(), schemas: await schemas(), files: tsFiles() }).toEqual(before);
    expect(leftovers()).toEqual([]);
    console.log(r.stderr.split('\n').filter((l) => /^undrop: error|^HINT|^ERROR/.test(l)).join('\n'));
  });
});
