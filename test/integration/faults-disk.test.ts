// The fault matrix, environment: the work directory's disk is small (a real
// tmpfs), or fills up after the pre-check passed (a filler file written
// while the restore runs). Exit 1, a message that names the requirement and
// what it is made of against what is free, nothing written to production,
// nothing left behind. Needs root (mount); skipped otherwise.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBinaries } from '../../src/postgres/binaries.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { TempInstance } from '../../src/postgres/instance.js';
import { cliArgs } from '../cli.js';
import { testWorkDir } from '../helpers.js';

const root = process.getuid?.() === 0;
const base = join(testWorkDir(), `disk-${process.pid}`);
const mnt = join(base, 'mnt');
let prod: TempInstance;
let cfg: string;

function mount(sizeMb: number) {
  mkdirSync(mnt, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=0755`, 'tmpfs', mnt]);
}
function umount() {
  try {
    execFileSync('umount', [mnt]);
  } catch {
    /* not mounted */
  }
}

beforeAll(async () => {
  if (!root) return;
  mkdirSync(base, { recursive: true });
  chmodSync(base, 0o755);
  const bin = await findBinaries();
  prod = await TempInstance.create({ bin, workDir: testWorkDir(), name: 'disk-prod', noSync: true });
  await prod.start();
  await prod.query('CREATE TABLE parcels (id int PRIMARY KEY, note text); INSERT INTO parcels SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 20000) g');
  const dump = join(base, 'nightly.dump');
  const c = prod.connParams('postgres');
  await execa(join(bin.dir, 'pg_dump'), ['-Fc', '-h', c.host!, '-p', String(c.port), '-U', c.user ?? 'postgres', '-f', dump, 'postgres']);
  chmodSync(dump, 0o644);
  await prod.query('DROP TABLE parcels');
  cfg = join(base, 'undrop.yaml');
  writeFileSync(cfg, `production:\n  dsn: "host=${c.host} port=${c.port} user=${c.user ?? 'postgres'} dbname=postgres"\nsources:\n  - name: nightly\n    kind: dump\n    paths: ["${dump}"]\n`);
}, 120_000);

afterAll(async () => {
  umount();
  await prod?.destroy();
  await runAllCleanups();
  rmSync(base, { recursive: true, force: true });
});

const run = (args: string[]) => execa(process.execPath, cliArgs(['-c', cfg, '--work-dir', join(mnt, 'work'), 'recover', '--tables', 'parcels', '--source', 'nightly', '--target', 'latest', '--yes', ...args]), { reject: false, stdin: 'ignore', timeout: 300_000 });
const schemas = async () => (await prod.query<{ n: string }>("SELECT nspname AS n FROM pg_namespace WHERE nspname LIKE 'undrop%'")).rows.map((r) => r.n);
const leftovers = () => (existsSync(join(mnt, 'work', 'instances')) ? readdirSync(join(mnt, 'work', 'instances')) : []);

describe.skipIf(!root)('the work directory runs out of disk', () => {
  it('a 250 MB tmpfs: refused before anything is written, naming the requirement, what it is made of, and what is free', async () => {
    mount(250);
    try {
      const r = await run([]);
      expect(r.exitCode, r.stderr).toBe(1);
      const m = /error \[DISK_SPACE\]: (.*)/.exec(r.stderr)?.[1];
      expect(m, r.stderr).toMatch(/^Restoring dump nightly\.dump needs ([\d.]+) MB \([\d.]+ (kB|MB) of data written \+ a 256 MB margin\) in \S+, but only ([\d.]+) MB is free there \(([\d.]+) (kB|MB) short\)\. Nothing was written\.$/);
      // the figures agree with each other: need > free
      const [need, free] = [/needs ([\d.]+) MB/.exec(m!)![1], /only ([\d.]+) MB/.exec(m!)![1]].map(Number);
      expect(need).toBeGreaterThan(free!);
      expect(r.stderr).toMatch(/^HINT: .*--work-dir/m);
      expect(await schemas()).toEqual([]);
      expect(leftovers()).toEqual([]);
    } finally {
      umount();
    }
  });

  it('filled after the pre-check passed (a filler written while the restore runs): DISK_FULL naming the step and the space left, nothing written, nothing left', async () => {
    mount(400);
    try {
      const child = run([]);
      let err = '';
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
      });
      while (!/→ Extracting the tables/.test(err)) {
        if (child.exitCode !== null) throw new Error(`the run ended before the restore:\n${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      // Fill the filesystem: dd stops at ENOSPC (exit 1), leaving it full.
      await execa('dd', ['if=/dev/zero', `of=${join(mnt, 'filler')}`, 'bs=1M'], { reject: false });
      const r = await child;
      expect(r.exitCode, err).toBe(1);
      expect(err).toMatch(/error \[DISK_FULL\]: The work directory \S+ ran out of disk space during step materialize \(free when it failed: [\d.]+ (B|kB|MB)\)\. Nothing was written to production\./);
      expect(err).toMatch(/^HINT: .*df -h/m);
      // the program's own words stay visible under the message (the OS's, or PostgreSQL's when the filler catches
      // initdb mid-write: "could not extend file …: wrote only 4096 of 8192 bytes … Check free disk space", CI ci32);
      // the report is written, or said to be incomplete when the disk stayed full
      expect(err).toMatch(/No space left on device|Check free disk space/);
      expect(err).toMatch(/Incident report: (not complete at \S+report\.md \(ENOSPC|\S+report\.md)/);
      expect(err).not.toMatch(/INTERNAL|at .*\.ts:\d+/);
      expect(await schemas()).toEqual([]);
      expect(leftovers()).toEqual([]);
    } finally {
      umount();
    }
  });
});
