// The fault matrix: a PostgreSQL program of the needed major is missing
// (a --pg-bin folder holding all programs but one, as a partial install
// does). lab up, locate and recover stop with exit 2, name the program and
// the version, and say which package to install; nothing is left behind.
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBinaries, type PgBinaries } from '../../src/postgres/binaries.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { TempInstance } from '../../src/postgres/instance.js';
import { undrop } from '../cli.js';
import { testWorkDir } from '../helpers.js';

const base = join(testWorkDir(), `programs-${process.pid}`);
let bin: PgBinaries;
let prod: TempInstance;
let cfg: string;

/** A bin folder with every program of `bin` except `missing` (links, so versions match). */
function partialBin(missing: string): string {
  const dir = join(base, `bin-without-${missing}`);
  mkdirSync(dir, { recursive: true });
  for (const p of readdirSync(bin.dir)) if (p !== missing) symlinkSync(join(bin.dir, p), join(dir, p));
  return dir;
}

beforeAll(async () => {
  mkdirSync(base, { recursive: true });
  bin = await findBinaries();
  prod = await TempInstance.create({ bin, workDir: testWorkDir(), name: 'programs-prod', noSync: true });
  await prod.start();
  await prod.query('CREATE TABLE parcels (id int PRIMARY KEY); INSERT INTO parcels SELECT generate_series(1, 100)');
  const c = prod.connParams('postgres');
  const dump = join(base, 'nightly.dump');
  await execa(join(bin.dir, 'pg_dump'), ['-Fc', '-h', c.host!, '-p', String(c.port), '-U', c.user ?? 'postgres', '-f', dump, 'postgres']);
  cfg = join(base, 'undrop.yaml');
  writeFileSync(cfg, `production:\n  dsn: "host=${c.host} port=${c.port} user=${c.user ?? 'postgres'} dbname=postgres"\nsources:\n  - name: nightly\n    kind: dump\n    paths: ["${dump}"]\n`);
}, 120_000);

afterAll(async () => {
  await prod?.destroy();
  await runAllCleanups();
  rmSync(base, { recursive: true, force: true });
});

function expectMissing(r: { exitCode: number; stderr: string }, program: string) {
  expect(r.exitCode, r.stderr).toBe(2);
  expect(r.stderr).toMatch(new RegExp(`error \\[PG_PROGRAM_MISSING\\]: (Source \\w+: \\S+: )?${program} for PostgreSQL ${bin.major} is not in \\S+bin-without-${program}\\.`));
  expect(r.stderr).toMatch(new RegExp(`^HINT: Install them \\(Debian/Ubuntu: apt-get install postgresql-${bin.major}; RHEL: dnf install postgresql${bin.major}-server\\) or point --pg-bin at their folder\\.`, 'm'));
  expect(r.stderr).not.toMatch(/INTERNAL|at .*\.ts:\d+/);
}

describe('a missing PostgreSQL program of the needed major: exit 2, the version and the package named', () => {
  it('locate without pg_waldump', async () => {
    const walDir = join(prod.dataDir, 'pg_wal');
    const r = await undrop(['-c', cfg, '--pg-bin', partialBin('pg_waldump'), 'locate', '--wal-dir', walDir]);
    expectMissing(r, 'pg_waldump');
  });

  it('recover without pg_restore (a dump source): nothing written, no temporary folder left', async () => {
    const work = join(base, 'work-recover');
    const r = await undrop(['-c', cfg, '--pg-bin', partialBin('pg_restore'), '--work-dir', work, 'recover', '--tables', 'parcels', '--source', 'nightly', '--target', 'latest', '--yes']);
    expectMissing(r, 'pg_restore');
    const schemas = (await prod.query<{ n: string }>("SELECT nspname AS n FROM pg_namespace WHERE nspname LIKE 'undrop%'")).rows;
    expect(schemas).toEqual([]);
    expect(existsSync(join(work, 'instances')) ? readdirSync(join(work, 'instances')) : []).toEqual([]);
  });

  it('lab up without initdb: exit 2, no server of the lab left running', async () => {
    const dir = join(base, 'lab');
    const r = await undrop(['--pg-bin', partialBin('initdb'), 'lab', 'up', '--dir', dir, '--scale', '100']);
    expectMissing(r, 'initdb');
    const ps = (await execa('ps', ['-eo', 'args='])).stdout.split('\n').filter((l) => l.includes(dir));
    expect(ps).toEqual([]);
  });
});
