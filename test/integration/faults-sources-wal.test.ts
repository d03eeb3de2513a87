// The fault matrix, WAL-based sources on a WAL archive with history. One
// production, built so that "latest" is the wrong timeline for one of its
// incidents:
//   timeline 1: base backups b1 and b2 (b2 then corrupted: one byte flipped);
//               a PITR copy of b1, started for a test with archiving on, forks
//               timeline 2 into the same archive (junk: production never saw it);
//               production goes on and drops "crates" (incident 1, on timeline 1);
//   timeline 3: production is restarted through archive recovery (a failover,
//               history 00000003.history) and drops "parcels" (incident 2);
//               last, someone drops parcels in the PITR copy too (timeline 2):
//               the newest DROP in the archive, on a branch production never followed.
// Plus another cluster's archive, and a copy of b2 without its manifest.
import { appendFileSync, chmodSync, copyFileSync, readdirSync, statSync, mkdirSync, mkdtempSync, openSync, closeSync, readSync, writeSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveCommand, restoreCommand } from '../../src/lab/layout.js';
import { findBinaries, type PgBinaries } from '../../src/postgres/binaries.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { copyTree, TempInstance } from '../../src/postgres/instance.js';
import { pgBasebackup } from '../../src/postgres/lab-programs.js';
import { chownForServer } from '../../src/postgres/os-user.js';
import { undrop } from '../cli.js';
import { expectFailedRun } from '../fault-checks.js';
import { testWorkDir, waitUntil } from '../helpers.js';

const base = mkdtempSync(join(testWorkDir(), 'fwal-'));
chmodSync(base, 0o755);
const archive = join(base, 'archive');
const otherArchive = join(base, 'archive-other');
const backups = join(base, 'base');
const noManifest = join(base, 'base-nomanifest');
const tarBackups = join(base, 'base-tar');
const cfg = join(base, 'undrop.yaml');
const cfgOther = join(base, 'other.yaml');
const tl3Archive = join(base, 'archive-tl3');
const cfgTl3 = join(base, 'tl3.yaml');
let bin: PgBinaries;
let prod: TempInstance;
let other: TempInstance;
let junk: TempInstance;
const truth: Record<string, string> = {};
let otherId: string;
let prodId: string;

const sideSchemas = async () => (await prod.query<{ n: string }>("SELECT nspname AS n FROM pg_namespace WHERE nspname LIKE 'undrop%'", [], 'shop')).rows.map((r) => r.n);
const dropSideSchemas = async () => {
  for (const s of await sideSchemas()) await prod.query(`DROP SCHEMA "${s}" CASCADE`, [], 'shop');
};
const sumOf = async (table: string) => (await prod.query<{ s: string }>(`SELECT count(*) || ':' || sum(hashtext(t::text)) AS s FROM ${table} t`, [], 'shop')).rows[0]!.s;

async function archiveNow(inst: TempInstance): Promise<void> {
  const seg = (await inst.query<{ w: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS w')).rows[0]!.w;
  await waitUntil(`segment ${seg} archived`, async () => ((await inst.query<{ w: string | null }>('SELECT last_archived_wal AS w FROM pg_stat_archiver')).rows[0]!.w ?? '') >= seg, { tries: 300, everyMs: 200 });
}

/** Flip one byte of a file (a bit rot, a bad copy). */
function flipByte(path: string, offset: number): void {
  const fd = openSync(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, offset);
    b[0] = b[0]! ^ 0xff;
    writeSync(fd, b, 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}

const primarySettings = (dir: string) => ({ wal_level: 'replica', archive_mode: 'on', archive_command: archiveCommand(dir), max_wal_senders: 5, hot_standby: 'on' });

beforeAll(async () => {
  bin = await findBinaries();
  for (const d of [archive, otherArchive, backups, noManifest, tarBackups]) {
    mkdirSync(d);
    await chownForServer(d);
  }
  prod = await TempInstance.create({ bin, workDir: testWorkDir(), name: 'fwal-prod', dataChecksums: true, settings: primarySettings(archive) });
  await prod.start();
  prodId = (await prod.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()')).rows[0]!.id;
  await prod.query('CREATE ROLE replicator WITH REPLICATION LOGIN');
  await prod.query('CREATE DATABASE shop');
  await prod.query('CREATE TABLE parcels (id int PRIMARY KEY, note text); INSERT INTO parcels SELECT g, md5(g::text) FROM generate_series(1, 2000) g', [], 'shop');
  await prod.query('CREATE TABLE crates (id int PRIMARY KEY, label text); INSERT INTO crates SELECT g, $$crate $$ || g FROM generate_series(1, 500) g', [], 'shop');
  // Hint bits set and rows frozen now: later reads write no page of these tables, so WAL replay never rewrites a flipped one.
  await prod.query('VACUUM FREEZE', [], 'shop');
  const file = async (t: string) => (await prod.query<{ p: string }>('SELECT pg_relation_filepath($1) AS p', [t], 'shop')).rows[0]!.p;
  const parcelsFile = await file('parcels');
  const cratesFile = await file('crates');
  truth.crates = await sumOf('crates');
  const backup = (dir: string) => pgBasebackup(bin, { host: prod.socketDir, port: prod.port, user: 'replicator', dir, format: 'plain' });
  await backup(join(backups, 'b1'));
  await backup(join(backups, 'b2'));
  // b2 without its manifest (nothing can check it but the page checksums), a byte of crates flipped.
  await copyTree(join(backups, 'b2'), join(noManifest, 'b3'));
  rmSync(join(noManifest, 'b3', 'backup_manifest'));
  flipByte(join(noManifest, 'b3', cratesFile), 5000);
  // A tar.gz backup with a byte of base.tar.gz flipped (gzip's CRC no longer matches).
  await pgBasebackup(bin, { host: prod.socketDir, port: prod.port, user: 'replicator', dir: join(tarBackups, 'b4'), format: 'tar', gzip: true });
  const tgz = join(tarBackups, 'b4', 'base.tar.gz');
  flipByte(tgz, Math.floor(statSync(tgz).size / 2));
  // b2 itself: a byte of parcels flipped (its manifest checksum no longer matches).
  flipByte(join(backups, 'b2', parcelsFile), 5000);
  await archiveNow(prod);

  // A PITR copy of b1 started for a test, archiving into production's archive: timeline 2 forks here.
  junk = await TempInstance.fromDataDir(join(backups, 'b1'), { bin, workDir: testWorkDir(), name: 'fwal-junk', recovery: 'recovery', settings: { ...primarySettings(archive), restore_command: restoreCommand(archive), recovery_target_action: 'promote' } });
  await junk.start();
  await waitUntil('the PITR copy promotes', async () => !(await junk.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r, { tries: 300, everyMs: 200 });
  await junk.query('CREATE TABLE scratch (id int)');
  await archiveNow(junk);

  // Production goes on, on timeline 1: incident 1.
  await prod.query('INSERT INTO parcels SELECT g, md5(g::text) FROM generate_series(2001, 2100) g', [], 'shop');
  await prod.query('DROP TABLE crates', [], 'shop');
  await archiveNow(prod);

  // A failover in place: production restarted through archive recovery, promoted to timeline 3.
  await prod.stop();
  writeFileSync(join(prod.dataDir, 'recovery.signal'), '');
  await chownForServer(join(prod.dataDir, 'recovery.signal'), false);
  // 'current': with "latest" the server itself would try to follow the junk timeline 2 and refuse to start.
  await prod.configure({ restore_command: restoreCommand(archive), recovery_target_timeline: 'current' });
  await prod.start().catch((e) => {
    throw new Error(`${e}\n${prod.logTail(30).join('\n')}`);
  });
  await waitUntil('production promotes', async () => !(await prod.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r, { tries: 300, everyMs: 200 });
  const tli = (await prod.query<{ t: number }>('SELECT timeline_id AS t FROM pg_control_checkpoint()')).rows[0]!.t;
  if (tli !== 3) throw new Error(`production is on timeline ${tli}, not 3`);
  await prod.query('INSERT INTO parcels SELECT g, md5(g::text) FROM generate_series(2101, 2150) g', [], 'shop');
  truth.parcels = await sumOf('parcels');
  // Incident 2, on timeline 3.
  await prod.query('DROP TABLE parcels', [], 'shop');
  await archiveNow(prod);

  // Last of all, someone drops parcels in the PITR copy too: the newest DROP in the archive, on the junk branch.
  await junk.query('DROP TABLE parcels', [], 'shop');
  await archiveNow(junk);
  await junk.destroy();

  // Another cluster's archive.
  other = await TempInstance.create({ bin, workDir: testWorkDir(), name: 'fwal-other', settings: primarySettings(otherArchive) });
  await other.start();
  otherId = (await other.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()')).rows[0]!.id;
  await other.query('CREATE TABLE parcels (id int); INSERT INTO parcels SELECT generate_series(1, 10); DROP TABLE parcels');
  await archiveNow(other);
  await other.destroy();

  // The promoted primary's own archive: its timeline 3 and its history file only (a fresh archive location after the failover).
  mkdirSync(tl3Archive);
  for (const f of readdirSync(archive).filter((n) => n.startsWith('00000003'))) copyFileSync(join(archive, f), join(tl3Archive, f));
  await chownForServer(tl3Archive);

  const p = prod.connParams('shop');
  const production = `production:\n  dsn: "host=${p.host} port=${p.port} user=postgres dbname=shop"\nsources:\n`;
  writeFileSync(cfg, production + `  - name: wal\n    kind: pitr\n    base_backups: ${backups}\n    wal_archive: ${archive}\n  - name: unchecked\n    kind: pitr\n    base_backups: ${noManifest}\n    wal_archive: ${archive}\n  - name: tarred\n    kind: pitr\n    base_backups: ${tarBackups}\n    wal_archive: ${archive}\n`);
  writeFileSync(cfgTl3, production + `  - name: wal\n    kind: pitr\n    base_backups: ${backups}\n    wal_archive: ${tl3Archive}\n`);
  writeFileSync(cfgOther, production + `  - name: wal\n    kind: pitr\n    base_backups: ${backups}\n    wal_archive: ${otherArchive}\n`);
  void appendFileSync;
}, 600_000);

afterAll(async () => {
  await junk?.destroy();
  await other?.destroy();
  await prod?.destroy();
  await runAllCleanups();
  rmSync(base, { recursive: true, force: true });
});

const recover = (work: string, args: string[], config = cfg) => undrop(['-c', config, '--work-dir', work, 'recover', '--yes', ...args], { timeoutMs: 600_000 });

describe('a WAL archive with history (timelines 1, 2 and 3)', () => {
  it('locate reads every timeline: incident 1 on timeline 1 (after timeline 2 forked), incident 2 on timeline 3', async () => {
    const r = await undrop(['-c', cfg, '--json', 'locate', '--source', 'wal'], { timeoutMs: 300_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.wal.timelines).toEqual([1, 2, 3]);
    expect(doc.warnings.map((w: any) => w.code)).not.toContain('WAL_TIMELINES');
    const dropOf = (t: string) => doc.events.find((e: any) => e.relations.some((x: any) => x.name === `public.${t}`));
    expect(dropOf('crates'), JSON.stringify(doc.events)).toMatchObject({ kind: 'drop', timeline: 1, target: { timeline: '1' } });
    expect(dropOf('parcels')).toMatchObject({ kind: 'drop', timeline: 3, target: { timeline: '3' } });
    expect(doc.events.filter((e: any) => e.relations.some((x: any) => x.name === 'public.crates'))).toHaveLength(1);
    // The newest DROP of parcels is the PITR copy's, on timeline 2: listed, but after production's own, and said why.
    const parcels = doc.events.filter((e: any) => e.relations.some((x: any) => x.name === 'public.parcels'));
    expect(parcels.map((e: any) => e.timeline)).toEqual([3, 2]);
    expect(Date.parse(parcels[1].commitTime)).toBeGreaterThan(Date.parse(parcels[0].commitTime));
    expect(parcels[1].notes.join(' ')).toMatch(/On timeline 2, a branch production's own history \(timeline 3\) does not include/);
    expect(doc.events[0]).toBe(parcels[0]);
  });

  it('recover crates (incident on timeline 1): follows timeline 1, not "latest"; the corrupted newer backup is skipped; every row back', async () => {
    const r = await recover(join(base, 'work-crates'), ['--tables', 'crates', '--source', 'wal', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Target: just before transaction \d+, .*timeline 1 \(locate: drop of public\.crates/);
    expect(r.stderr).toMatch(/Base backup \S+\/b2 was skipped: pg_verifybackup failed: .*checksum mismatch for file "base\/\d+\/\d+" Restored the older \S+\/b1 instead/);
    expect(await sumOf(`${JSON.parse(r.stdout).schema}.crates`)).toBe(truth.crates);
    await dropSideSchemas();
  });

  it('recover parcels (incident on timeline 3): a timeline-1 backup replays through the history to timeline 3; every row back', async () => {
    const r = await recover(join(base, 'work-parcels'), ['--tables', 'parcels', '--source', 'wal', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Target: just before transaction \d+, .*timeline 3 \(locate: drop of public\.parcels/);
    expect(await sumOf(`${JSON.parse(r.stdout).schema}.parcels`)).toBe(truth.parcels);
    await dropSideSchemas();
  });

  it('--target-timeline 2, a branch that forked before incident 1: refused before anything is restored (xids repeat across branches: replay would stop before another transaction of that number); exit 2', async () => {
    const work = join(base, 'work-tl2');
    const r = await recover(work, ['--tables', 'crates', '--source', 'wal', '--target-timeline', '2']);
    await expectFailedRun(r, {
      exitCode: 2,
      code: 'TARGET_TIMELINE_MISMATCH',
      message: /^The incident \(transaction \d+, committed \S+\) is on timeline 1, and timeline 2 never saw it: it left timeline 1 before that, or is another branch\. Following it, replay would stop before another transaction numbered \d+, or never reach one\.$/,
      hint: /Leave --target-timeline out \(undrop follows the incident's timeline, 1\), or pass --target-timeline 1\./,
      work,
      sideSchemas,
      step: 'find the target',
    });
  });
});

describe('WAL of the new timeline only (the promoted primary\'s archive: 00000003.history and timeline 3)', () => {
  it('locate finds the incident on timeline 3; the timeline-1 backups cannot reach it (the segments before the fork are not there): recover exit 1 naming the first missing one', async () => {
    const l = await undrop(['-c', cfgTl3, '--json', 'locate', '--tables', 'parcels'], { timeoutMs: 300_000 });
    expect(l.exitCode, l.stderr).toBe(0);
    const doc = JSON.parse(l.stdout);
    expect(doc.wal.timelines).toEqual([3]);
    expect(doc.events[0]).toMatchObject({ timeline: 3, relations: [expect.objectContaining({ name: 'public.parcels' })] });
    const work = join(base, 'work-tl3');
    const r = await recover(work, ['--tables', 'parcels'], cfgTl3);
    // the probe said so first (the source is degraded: the target lies beyond the missing segment)
    expect(r.stderr).toMatch(/Source: wal \(pitr\) — best-ranked degraded source/);
    await expectFailedRun(r, { exitCode: 1, code: 'WAL_SEGMENT_MISSING', message: /^Recovery ended before the target was reached: WAL segment 000000010000000000000003 is missing from the archive\.$/, hint: /Find 000000010000000000000003 \(another archive copy, the primary's pg_wal, a replica's pg_wal\) and add it to the archive, or choose a source whose recovery point lies before the gap\.$/, work, sideSchemas, step: 'materialize' });
  });
});

describe('a base backup with a corrupted data file (one byte flipped)', () => {
  it('probe: the manifest check (pg_verifybackup) marks that backup unusable; the source falls back to the older one (degraded)', async () => {
    const r = await undrop(['-c', cfg, '--json', 'probe', '--source', 'wal'], { timeoutMs: 300_000 });
    const wal = JSON.parse(r.stdout).sources.find((s: any) => s.name === 'wal');
    expect(wal.status).toBe('degraded');
    const b2 = wal.items.find((i: any) => i.label === 'b2');
    expect(b2.status).toBe('unusable');
    expect(b2.findings.find((f: any) => f.level === 'error')).toMatchObject({ code: 'BACKUP_VERIFY_FAILED', message: expect.stringMatching(/checksum mismatch for file "base\/\d+\/\d+"/) });
    expect(wal.findings.map((f: any) => f.code)).toContain('NEWEST_UNUSABLE');
  });

  it('recover --set b2 refuses it: exit 1 naming the check that failed; nothing written, nothing left, report written', async () => {
    const work = join(base, 'work-set');
    const r = await recover(work, ['--tables', 'parcels', '--source', 'wal', '--set', 'b2']);
    await expectFailedRun(r, { exitCode: 1, code: 'BACKUP_UNUSABLE', message: /^Base backup \S+\/b2 \(--set b2\) cannot be used: pg_verifybackup failed: .*checksum mismatch for file "base\/\d+\/\d+"/, hint: /Choose another backup with --set/, work, sideSchemas, step: 'check the pinned set (--set)' });
  });

  it('no manifest to check it: the page checksum catches the flipped byte when the table is read; exit 1, nothing written, nothing left', async () => {
    const work = join(base, 'work-pages');
    const r = await recover(work, ['--tables', 'crates', '--source', 'unchecked']);
    const { timeline } = await expectFailedRun(r, { exitCode: 1, code: 'SOURCE_DATA_CORRUPT', message: /table public\.crates has a damaged page \(invalid page in block 0 of relation base\/\d+\/\d+\): PostgreSQL's page checksum caught/, hint: /Do not use this copy\. Use another base backup \(--set LABEL/, work, sideSchemas });
    // caught where the rows are first read, before anything is published: copy back's COPY or its source
    // checksums, which count the rows for the identity check (materialize no longer counts them first)
    expect(timeline.find((e) => e.type === 'step-failed')).toMatchObject({ step: expect.stringMatching(/^(identity check|copy back|copy rows, checksums, keys and indexes \(tables in parallel\))$/), code: 'SOURCE_DATA_CORRUPT' });
  });
});

describe('a tar.gz base backup with a byte flipped', () => {
  it('probe --deep extracts it and marks it unusable; recover stops at the extraction: exit 1, nothing written, nothing left', async () => {
    const p = await undrop(['-c', cfg, '--json', 'probe', '--deep', '--source', 'tarred'], { timeoutMs: 300_000 });
    const tarred = JSON.parse(p.stdout).sources[0];
    expect(tarred.status).toBe('unusable');
    expect(tarred.items[0].findings.find((f: any) => f.level === 'error')).toMatchObject({ code: 'BACKUP_TAR_BROKEN', hint: expect.stringMatching(/damaged or truncated; use another backup/) });
    const work = join(base, 'work-tar');
    const r = await recover(work, ['--tables', 'crates', '--source', 'tarred']);
    await expectFailedRun(r, { exitCode: 1, code: 'BACKUP_EXTRACT_FAILED', message: /^(Reading|Listing|Extracting) \S+base\.tar\.gz failed\.$/, hint: /The archive may be truncated; check it with tar -tzf\./, work, sideSchemas, step: 'materialize' });
  });
});

describe('a WAL archive of another cluster', () => {
  it('locate refuses it, naming both system identifiers: exit 2', async () => {
    const r = await undrop(['-c', cfgOther, 'locate']);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toContain(`error [WAL_OTHER_CLUSTER]: The WAL in ${otherArchive} comes from another cluster: its system identifier is ${otherId}, production's is ${prodId}.`);
    expect(r.stderr).toMatch(/^HINT: Point locate at the archive of the damaged cluster/m);
  });

  it('probe: the PITR source is unusable, both identifiers named', async () => {
    const r = await undrop(['-c', cfgOther, '--json', 'probe']);
    const wal = JSON.parse(r.stdout).sources[0];
    expect(wal.status).toBe('unusable');
    expect(wal.findings[0]).toMatchObject({ level: 'error', code: 'WAL_OTHER_CLUSTER', message: expect.stringContaining(`has system identifier ${otherId}, production's is ${prodId}`) });
  });

  it('recover: exit 2 before anything is restored; nothing written, nothing left, report written', async () => {
    const work = join(base, 'work-other');
    const r = await recover(work, ['--tables', 'parcels'], cfgOther);
    await expectFailedRun(r, { exitCode: 2, code: 'WAL_OTHER_CLUSTER', message: new RegExp(`its system identifier is ${otherId}, production's is ${prodId}\\.$`), hint: /Point locate at the archive of the damaged cluster/, work, sideSchemas, step: 'find the target' });
  });
});
