// The fault matrix, environment: WAL replay needs more of the work directory
// than the restored backup. Genuine, no filler: the base backup is small, but
// the WAL archived after it writes a table larger than the pre-check's
// margin. With the incident located (its LSN known) the pre-check counts
// that WAL and refuses; with a time target (no LSN) it cannot, passes, and
// the temporary instance runs out of space while it replays. Either way:
// exit 1, what it needs (data + WAL + margin) against what is free, nothing
// written to production, nothing left behind, the incident folder written.
// Needs root (mount); skipped otherwise.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { archiveCommand, labLayout } from '../../src/lab/layout.js';
import { pgbackrestAvailable, pgbackrestFullBackup, setUpPgbackrest } from '../../src/lab/pgbackrest.js';
import { findBinaries } from '../../src/postgres/binaries.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { TempInstance } from '../../src/postgres/instance.js';
import { pgBasebackup } from '../../src/postgres/lab-programs.js';
import { chownForServer } from '../../src/postgres/os-user.js';
import { diskUsage, isDiskFull, isDiskFullIn } from '../../src/sources/materialize/preflight.js';
import { undrop } from '../cli.js';
import { expectFailedRun } from '../fault-checks.js';
import { testWorkDir, waitUntil } from '../helpers.js';

const root = process.getuid?.() === 0;
const hasBackrest = root && (await pgbackrestAvailable());
const MB = 1024 * 1024;
let base: string;
let mnt: string;
let cfg: string;
let prod: TempInstance;
let tmpfsMb = 0;
let beforeDrop = '';

beforeAll(async () => {
  if (!root) return;
  base = mkdtempSync(join(testWorkDir(), 'frep-'));
  chmodSync(base, 0o755);
  mnt = join(base, 'mnt');
  const layout = labLayout(base);
  const { archive, base: backups } = layout;
  for (const d of [archive, backups]) {
    mkdirSync(d);
    await chownForServer(d);
  }
  const bin = await findBinaries();
  prod = await TempInstance.create({ bin, workDir: testWorkDir(), name: 'frep-prod', settings: { wal_level: 'replica', archive_mode: 'on', archive_command: archiveCommand(archive), max_wal_senders: 5, max_wal_size: '1GB' } });
  await prod.start();
  await prod.query('CREATE ROLE replicator WITH REPLICATION LOGIN');
  await prod.query('CREATE TABLE parcels (id int PRIMARY KEY, note text); INSERT INTO parcels SELECT g, md5(g::text) FROM generate_series(1, 2000) g');
  await pgBasebackup(bin, { host: prod.socketDir, port: prod.port, user: 'replicator', dir: join(backups, 'b1'), format: 'plain' });
  // The same cluster in a pgBackRest repository too (its archive_command pushes every segment there as well).
  const backrest = hasBackrest ? await setUpPgbackrest(layout, prod) : undefined;
  if (hasBackrest) await pgbackrestFullBackup(layout);
  // After the backup: a table of ~320 MB (rows just under the TOAST threshold, so never compressed),
  // more than the pre-check's 256 MB margin: replaying it cannot fit.
  await prod.query("CREATE TABLE ledger (id int, pad text); INSERT INTO ledger SELECT g, repeat('x', 1800) FROM generate_series(1, 170000) g");
  beforeDrop = (await prod.query<{ t: string }>("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS t")).rows[0]!.t;
  await prod.query('DROP TABLE parcels');
  const seg = (await prod.query<{ w: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS w')).rows[0]!.w;
  await waitUntil(`segment ${seg} archived`, async () => ((await prod.query<{ w: string | null }>('SELECT last_archived_wal AS w FROM pg_stat_archiver')).rows[0]!.w ?? '') >= seg, { tries: 600, everyMs: 200 });
  // Room for the backup and the margin the pre-check asks for, and 40 MB more (pgBackRest's size of the
  // same cluster may differ a little): the pre-check passes unless it counts the WAL to replay.
  tmpfsMb = Math.ceil((await diskUsage(join(backups, 'b1'))) / MB) + 256 + 40;
  const c = prod.connParams('postgres');
  cfg = join(base, 'undrop.yaml');
  writeFileSync(cfg, `production:\n  dsn: "host=${c.host} port=${c.port} user=${c.user ?? 'postgres'} dbname=postgres"\nsources:\n  - name: wal\n    kind: pitr\n    base_backups: ${backups}\n    wal_archive: ${archive}\n${backrest ? `  - name: backrest\n    kind: pgbackrest\n    stanza: ${backrest.stanza}\n    config: ${backrest.config}\n` : ''}`);
}, 300_000);

afterAll(async () => {
  if (!root) return;
  umount();
  await prod?.destroy();
  await runAllCleanups();
  rmSync(base, { recursive: true, force: true });
});

function umount() {
  try {
    execFileSync('umount', [mnt], { stdio: 'ignore' });
  } catch {
    /* not mounted */
  }
}
/** A fresh tmpfs as the work directory's filesystem, sized in beforeAll. */
function mountWork(): string {
  mkdirSync(mnt, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${tmpfsMb}m,mode=0755`, 'tmpfs', mnt]);
  return join(mnt, 'work');
}
const recover = (work: string, args: string[], source = 'wal') => undrop(['-c', cfg, '--work-dir', work, 'recover', '--tables', 'parcels', '--source', source, '--yes', ...args], { timeoutMs: 300_000 });
const sideSchemas = async () => (await prod.query<{ n: string }>("SELECT nspname AS n FROM pg_namespace WHERE nspname LIKE 'undrop%'")).rows.map((r) => r.n);

describe.skipIf(!root)('the work directory fills up during WAL replay', () => {
  afterEach(umount);

  it('pitr, incident located: the pre-check counts the WAL to replay and refuses before anything is written', async () => {
    const work = mountWork();
    const r = await recover(work, []);
    await expectFailedRun(r, {
      exitCode: 1,
      code: 'DISK_SPACE',
      message: /^Restoring base backup \S+ needs ([\d.]+) MB \([\d.]+ MB of data written \+ ([\d.]+) MB of WAL to replay \+ a 256 MB margin\) in \S+, but only ([\d.]+) MB is free there \([\d.]+ MB short\)\. Nothing was written\.$/,
      hint: /.*--work-dir/,
      work,
      sideSchemas,
    });
    const m = /needs ([\d.]+) MB .* \+ ([\d.]+) MB of WAL to replay .* only ([\d.]+) MB is free/.exec(r.stderr)!;
    const [need, wal, free] = [m[1], m[2], m[3]].map(Number);
    expect(wal).toBeGreaterThan(300);
    expect(need).toBeGreaterThan(free!);
    expect(r.stderr).not.toMatch(/replaying WAL/);
  }, 300_000);

  it('pitr, time target (no LSN to count): the pre-check passes, replay runs out: DISK_FULL naming the replay, data + WAL + margin against what is free; nothing written, nothing left', async () => {
    const work = mountWork();
    const r = await recover(work, ['--target', `time:${beforeDrop}`]);
    const { report } = await expectFailedRun(r, {
      exitCode: 1,
      code: 'DISK_FULL',
      message: /^The work directory \S+ ran out of disk space during WAL replay \(restoring base backup \S+\): it needs about ([\d.]+) MB \([\d.]+ MB of data written \+ ([\d.]+) MB of WAL to replay \+ a 256 MB margin\), but only ([\d.]+) MB is free there once the temporary instance is removed\. Nothing was written to production\.$/,
      hint: /Free space there \(df -h\) or point --work-dir at a larger filesystem/,
      work,
      sideSchemas,
      step: 'materialize',
    });
    // the figures agree with each other and with what happened: the WAL to replay is the big table's, need > free
    const m = /needs about ([\d.]+) MB .* \+ ([\d.]+) MB of WAL to replay .* only ([\d.]+) MB is free/.exec(r.stderr)!;
    const [need, wal, free] = [m[1], m[2], m[3]].map(Number);
    expect(wal).toBeGreaterThan(300);
    expect(need).toBeGreaterThan(free!);
    expect(free).toBeLessThanOrEqual(tmpfsMb);
    // the pre-check passed: the run got as far as the replay
    expect(r.stderr).toMatch(/replaying WAL/);
    // the cause stays visible under the message: PostgreSQL's own words, or (when the next segment no longer fits
    // where the instance restores WAL) undrop's, with the figure
    expect(r.stderr).toMatch(/No space left on device|could not extend file|disk full \([\d.]+ [kMG]?B free where the temporary instance restores WAL\)/);
    expect(report).toMatch(/WAL replay/);
  }, 300_000);

  it.skipIf(!hasBackrest)('pgBackRest, time target: the pre-check passes, fetching the WAL for the replay runs out: DISK_FULL naming the replay, data + WAL (to the end of the repository archive) + margin; nothing written, nothing left', async () => {
    const work = mountWork();
    const r = await recover(work, ['--target', `time:${beforeDrop}`], 'backrest');
    await expectFailedRun(r, {
      exitCode: 1,
      code: 'DISK_FULL',
      message: /^The work directory \S+ ran out of disk space during WAL replay \(pgBackRest backup \S+(, fetching the WAL to replay)?\): it needs about ([\d.]+) MB \([\d.]+ MB of data written \+ ([\d.]+) MB of WAL to replay \+ a 256 MB margin\), but only ([\d.]+) MB is free there once the temporary instance is removed\. Nothing was written to production\.$/,
      hint: /Free space there \(df -h\) or point --work-dir at a larger filesystem/,
      work,
      sideSchemas,
      step: 'materialize',
    });
    const m = /needs about ([\d.]+) MB .* \+ ([\d.]+) MB of WAL to replay .* only ([\d.]+) MB is free/.exec(r.stderr)!;
    const [need, wal, free] = [m[1], m[2], m[3]].map(Number);
    expect(wal).toBeGreaterThan(300);
    expect(need).toBeGreaterThan(free!);
    // the pre-check passed: the WAL is fetched for the replay (and its tablespace check) into the work directory, where it runs out
    expect(r.stderr).toMatch(/checking the WAL to replay/);
    // the cause in the details: the server's own write, or archive-get's when the segment no longer fits (undrop
    // says so with the figure: pgBackRest's own words are then a FileWriteError with whatever errno it met), or a
    // backend that could not write its relation cache file when the recovered instance was first connected to
    expect(r.stderr).toMatch(/No space left on device|could not extend file|ENOSPC|could not write init file|disk full \([\d.]+ [kMG]?B free where the temporary instance restores WAL\)/);
  }, 300_000);

  it('a failure whose words do not name the disk counts as a full disk while less than a WAL segment is free (as "could not write init file", seen in CI)', async () => {
    const work = mountWork();
    mkdirSync(work);
    const words = new Error('Could not connect to PostgreSQL at socket /tmp/x port 5432: could not write init file');
    expect(isDiskFull(words)).toBe(false);
    expect(await isDiskFullIn(words, work)).toBe(false);
    // fill the filesystem (dd stops at ENOSPC), leaving less than 16 MB
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${join(work, 'fill')}`, 'bs=1M'], { stdio: 'ignore' });
    } catch {
      /* stopped by the full disk, as meant */
    }
    expect(await isDiskFullIn(words, work)).toBe(true);
    rmSync(join(work, 'fill'));
    expect(await isDiskFullIn(words, work)).toBe(false);
  });
});
