// undrop probe against fixtures built with TempInstance: a primary archiving
// into a folder, plain and tar base backups, dumps (good, 14-byte error,
// truncated), a snapshot of the same cluster and one of another cluster,
// and bad input that must become findings, never a crash.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateInventory } from '../../src/inventory/load.js';
import { findBinaries } from '../../src/postgres/binaries.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { TempInstance, copyTree } from '../../src/postgres/instance.js';
import { chownForServer } from '../../src/postgres/os-user.js';
import { runProgram } from '../../src/postgres/run.js';
import { probeAll } from '../../src/sources/probe-all.js';
import type { ProbeResult } from '../../src/sources/types.js';
import { testWorkDir, waitUntil } from '../helpers.js';

const root = mkdtempSync(join(testWorkDir(), 'probe-fx-'));
chmodSync(root, 0o755);
const archive = join(root, 'archive');
const base = join(root, 'base');
const dumps = join(root, 'dumps');
const snaps = join(root, 'snapshots');
// The fixture folder is handed to the server user (its archive_command writes there); undrop's work directory must stay the runner's own.
const work = join(root, 'work');
let primary: TempInstance;
let other: TempInstance;

beforeAll(async () => {
  const bin = await findBinaries();
  for (const d of [archive, base, dumps, snaps]) mkdirSync(d, { recursive: true });
  await chownForServer(root);
  primary = await TempInstance.create({
    bin,
    workDir: work,
    name: 'fx-primary',
    settings: { wal_level: 'replica', archive_mode: 'on', archive_command: `test ! -f ${archive}/%f && cp %p ${archive}/%f` },
  });
  await primary.start();
  await primary.query('create table shipments as select g as id, md5(g::text) as note from generate_series(1, 20000) g');
  const conn = ['-h', primary.socketDir, '-p', String(primary.port), '-U', primary.superuser];
  await runProgram(bin.path('pg_basebackup'), [...conn, '-D', join(base, '1-plain'), '-Fp', '-X', 'stream', '-c', 'fast'], { asServerUser: true });
  await primary.query('insert into shipments select g, md5(g::text) from generate_series(20001, 30000) g');
  await runProgram(bin.path('pg_basebackup'), [...conn, '-D', join(base, '2-tar'), '-Ft', '-z', '-X', 'fetch', '-c', 'fast'], { asServerUser: true });
  await runProgram(bin.path('pg_dump'), [...conn, '-d', 'postgres', '-Fc', '-f', join(dumps, 'a-good.dump')], { asServerUser: true });
  await primary.query('insert into shipments select g, md5(g::text) from generate_series(30001, 40000) g');
  await primary.query('select pg_switch_wal()');
  await primary.query('checkpoint');
  // Wait for the archiver.
  await waitUntil('the archiver to archive 4 segments', async () => Number((await primary.query<{ n: string }>('select archived_count::text as n from pg_stat_archiver')).rows[0]!.n) >= 4, { tries: 150, everyMs: 200 });
  writeFileSync(join(dumps, 'b-broken.dump'), 'Access denied\n');
  const good = readFileSync(join(dumps, 'a-good.dump'));
  writeFileSync(join(dumps, 'c-truncated.dump'), good.subarray(0, Math.floor(good.length / 2)));
  writeFileSync(join(dumps, 'd-empty.dump'), '');
  symlinkSync(join(dumps, 'loop.dump'), join(dumps, 'loop.dump'));
  mkdirSync(join(base, '3-not-a-backup'));
  writeFileSync(join(base, '3-not-a-backup', 'README'), 'nothing here');
  // Snapshots: a copy of the primary's data directory, and one of another cluster.
  await copyTree(primary.dataDir, join(snaps, '20261125T010000Z'));
  other = await TempInstance.create({ bin, workDir: work, name: 'fx-other' });
  await copyTree(other.dataDir, join(snaps, '20261125T020000Z'));
}, 300_000);

afterAll(async () => {
  await primary?.destroy();
  await other?.destroy();
  await runAllCleanups();
});

function inventory(sources: unknown[]) {
  return validateInventory({ production: { dsn: `host=${primary.socketDir} port=${primary.port} user=${primary.superuser} dbname=postgres` }, sources, work_dir: join(root, 'work') }, join(root, 'undrop.yaml'));
}
const one = (rs: ProbeResult[], name: string) => rs.find((r) => r.name === name)!;
const item = (r: ProbeResult, label: string) => r.items!.find((i) => i.label === label || i.path?.endsWith(label))!;
const codesOf = (f: { code: string }[]) => f.map((x) => x.code);

describe('probe on fixtures', () => {
  it('pitr: plain verified, tar listed, the folder that is not a backup named', async () => {
    const rep = await probeAll(inventory([{ name: 'wal', kind: 'pitr', base_backups: base, wal_archive: archive }]));
    const r = one(rep.sources, 'wal');
    expect(r.status, JSON.stringify(r.findings)).toBe('usable');
    expect(codesOf(item(r, '1-plain').findings)).toContain('BACKUP_VERIFIED');
    expect(item(r, '2-tar').status).toBe('usable');
    expect(item(r, '3-not-a-backup')).toMatchObject({ status: 'unusable' });
    expect(codesOf(item(r, '3-not-a-backup').findings)).toContain('NOT_A_BASE_BACKUP');
    expect(r.recoveryPoint?.time).toMatch(/^\d{4}-/);
    expect(r.recoveryPoint?.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
  });

  it('pitr as recover probes it (verify: chosen): only the backup it restores is verified; a pin, or a broken newer one, moves the verification', async () => {
    const inv = inventory([{ name: 'wal', kind: 'pitr', base_backups: base, wal_archive: archive }]);
    // The newest (2-tar) is the one restored: pg_verifybackup never reads 1-plain.
    let r = one((await probeAll(inv, { verify: 'chosen' })).sources, 'wal');
    expect(r.status).toBe('usable');
    expect(codesOf(item(r, '2-tar').findings)).toContain('BACKUP_NOT_VERIFIED');
    expect(codesOf(item(r, '1-plain').findings)).toContain('BACKUP_VERIFY_SKIPPED');
    expect(codesOf(item(r, '1-plain').findings)).not.toContain('BACKUP_VERIFIED');
    // --set 1-plain: that one is verified.
    r = one((await probeAll(inv, { verify: 'chosen', pinned: '1-plain' })).sources, 'wal');
    expect(codesOf(item(r, '1-plain').findings)).toContain('BACKUP_VERIFIED');
    expect(codesOf(item(r, '2-tar').findings)).toContain('BACKUP_VERIFY_SKIPPED');
    // A damaged copy that sorts first (same start): it fails verification, and the next one is verified.
    const two = join(root, 'base-two');
    mkdirSync(two);
    await copyTree(join(base, '1-plain'), join(two, '0-damaged'));
    await copyTree(join(base, '1-plain'), join(two, '1-plain'));
    writeFileSync(join(two, '0-damaged', 'PG_VERSION'), '99\n');
    await chownForServer(two);
    r = one((await probeAll(inventory([{ name: 'wal2', kind: 'pitr', base_backups: two, wal_archive: archive }]), { verify: 'chosen' })).sources, 'wal2');
    expect(codesOf(item(r, '0-damaged').findings)).toContain('BACKUP_VERIFY_FAILED');
    expect(item(r, '0-damaged').status).toBe('unusable');
    expect(codesOf(item(r, '1-plain').findings)).toContain('BACKUP_VERIFIED');
    expect(r.items!.find((i) => i.status !== 'unusable')?.label).toBe('1-plain');
  });

  it('pitr --deep: the tar backup is extracted and verified', async () => {
    const rep = await probeAll(inventory([{ name: 'wal', kind: 'pitr', base_backups: join(base, '2-tar'), wal_archive: archive }]), { deep: true });
    expect(codesOf(one(rep.sources, 'wal').findings)).toContain('BACKUP_VERIFIED');
  });

  it('pitr through restore_command, and a failing restore_command as a finding', async () => {
    const rep = await probeAll(
      inventory([
        { name: 'rc', kind: 'pitr', base_backups: base, restore_command: `cp ${archive}/%f %p` },
        { name: 'rc-bad', kind: 'pitr', base_backups: base, restore_command: 'false-command-that-does-not-exist %f %p' },
      ]),
    );
    expect(one(rep.sources, 'rc').status, JSON.stringify(one(rep.sources, 'rc').findings)).toBe('usable');
    const bad = one(rep.sources, 'rc-bad');
    expect(bad.status).toBe('unusable');
    expect(codesOf(bad.findings)).toContain('RESTORE_COMMAND_FAILED');
  });

  it('pitr: a missing segment is named', async () => {
    const gapArchive = join(root, 'archive-gap');
    await copyTree(archive, gapArchive);
    const segs = (await import('node:fs')).readdirSync(gapArchive).filter((n) => /^[0-9A-F]{24}$/.test(n)).sort();
    const victim = segs[segs.length - 2]!;
    (await import('node:fs')).rmSync(join(gapArchive, victim));
    const rep = await probeAll(inventory([{ name: 'gap', kind: 'pitr', base_backups: join(base, '1-plain'), wal_archive: gapArchive }]));
    const r = one(rep.sources, 'gap');
    const f = r.findings.find((x) => x.code === 'WAL_GAP' || x.code === 'BACKUP_WAL_MISSING');
    expect(f?.message).toContain(victim);
    expect(r.status).not.toBe('usable');
  });

  it('dumps: good, 14-byte error text, truncated (size drop; --deep reads it), empty, unreadable', async () => {
    const inv = inventory([{ name: 'nightly', kind: 'dump', paths: [join(dumps, '*.dump')], max_age: '1h' }]);
    const r = one((await probeAll(inv)).sources, 'nightly');
    expect(item(r, 'a-good.dump').status).toBe('usable');
    expect(codesOf(item(r, 'b-broken.dump').findings)).toEqual(['DUMP_ERROR_TEXT']);
    expect(codesOf(item(r, 'c-truncated.dump').findings)).toContain('DUMP_SIZE_DROP');
    expect(codesOf(item(r, 'd-empty.dump').findings)).toEqual(['DUMP_EMPTY']);
    expect(codesOf(item(r, 'loop.dump').findings)).toEqual(['FILE_UNREADABLE']);
    expect(r.tables.map((t) => t.name)).toContain('public.shipments');
    const deep = one((await probeAll(inv, { deep: true })).sources, 'nightly');
    expect(item(deep, 'c-truncated.dump').status).toBe('unusable');
    expect(codesOf(item(deep, 'c-truncated.dump').findings)).toContain('DUMP_TRUNCATED');
    expect(codesOf(item(deep, 'a-good.dump').findings)).toContain('DUMP_READ_OK');
  });

  it('snapshots: the same cluster is usable, another cluster refused', async () => {
    const rep = await probeAll(inventory([{ name: 'san', kind: 'snapshot', paths: [join(snaps, '*')], max_age: '100000d' }]));
    const r = one(rep.sources, 'san');
    const mine = item(r, '20261125T010000Z');
    const theirs = item(r, '20261125T020000Z');
    expect(mine.status, JSON.stringify(mine.findings)).toBe('usable');
    expect(mine.recoveryPoint).toMatchObject({ time: '2026-11-25T01:00:00.000Z', basis: 'snapshot time from the path' });
    expect(theirs.status).toBe('unusable');
    expect(codesOf(theirs.findings)).toContain('SNAPSHOT_OTHER_CLUSTER');
  });

  it('an unreachable replica and a source that is not there are findings; the others still probe', async () => {
    const rep = await probeAll(
      inventory([
        { name: 'rep', kind: 'delayed-replica', dsn: `host=${join(root, 'nosock')} port=1 dbname=postgres connect_timeout=2` },
        { name: 'gone', kind: 'dump', paths: [join(root, 'nothing', '*.dump')] },
        { name: 'primary-as-replica', kind: 'delayed-replica', dsn: `host=${primary.socketDir} port=${primary.port} user=${primary.superuser} dbname=postgres` },
        { name: 'nightly', kind: 'dump', paths: [join(dumps, 'a-good.dump')], max_age: '1h' },
      ]),
    );
    expect(codesOf(one(rep.sources, 'rep').findings)).toEqual(['REPLICA_UNREACHABLE']);
    expect(codesOf(one(rep.sources, 'gone').findings)).toEqual(['NO_DUMPS_FOUND']);
    expect(codesOf(one(rep.sources, 'primary-as-replica').findings)).toContain('NOT_A_STANDBY');
    expect(one(rep.sources, 'nightly').status).toBe('usable');
    expect(rep.ranking[0]).toBe('nightly');
  });
});
