// A temporary instance never touches anything real, on the layouts
// production has (src/lab/production-layouts.ts): a snapshot path that is a
// link, pg_wal on its own volume, a tablespace outside the data directory, a
// standby-like configuration that reaches outside, a tar base backup with a
// tablespace tar reached through base-san/latest, a pgBackRest backup with
// the tablespace. Each is recovered through the real CLI; every source and
// the archive are fingerprinted (path, size, mtime, hash) before and after;
// the recovered rows equal the lab's truth; the report lists the settings
// that were dropped. During the runs every process's command line and the
// temporary servers' environments are watched for secrets.
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown } from '../../src/lab/down.js';
import { labIncident } from '../../src/lab/incident.js';
import { labLayout } from '../../src/lab/layout.js';
import { addProductionLayouts, MISSING_LIBRARY, type ProductionLayouts, SECRET_IN_CONNINFO } from '../../src/lab/production-layouts.js';
import { readState } from '../../src/lab/state.js';
import { labUp } from '../../src/lab/up.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { withClient } from '../../src/postgres/connect.js';
import { type ConnParams, resolveConnParams } from '../../src/postgres/conninfo.js';
import { tableChecksum, type TableChecksum } from '../../src/recovery/checksum.js';
import { IncidentLog } from '../../src/recovery/incident-log.js';
import { undrop } from '../cli.js';
import { testWorkDir } from '../helpers.js';

const root = mkdtempSync(join(testWorkDir(), 'iso-'));
chmodSync(root, 0o755);
const dir = join(root, 'lab');
const SHORT = ['shipments', 'shipment_events', 'invoices'] as const;
const TABLES_ARG = SHORT.join(',');

// Secrets that must never be seen: a URI password with @ / # ?, an sslpassword, the parent's PGPASSWORD.
const URI_PASSWORD = 'hu@nt/er#2?x';
const SSL_PASSWORD = 'ssl-key-secret-77';
const PARENT_PASSWORD = 'parent-env-secret-42';
const SECRETS = [URI_PASSWORD, encodeURIComponent(URI_PASSWORD), SSL_PASSWORD, PARENT_PASSWORD, SECRET_IN_CONNINFO];

let layouts: ProductionLayouts;
let truth: any;
let prod: ConnParams;
let cfg: string;

/**
 * The happy scenario without its delayed replica: a standby on the same host would replay
 * CREATE TABLESPACE into the primary's tablespace directory (the fixture refuses that).
 */
function noReplicaScenario(): string {
  const playbooks = join(root, 'playbooks');
  cpSync(join(process.cwd(), 'playbooks'), playbooks, { recursive: true });
  const happy = YAML.parse(readFileSync(join(playbooks, 'scenarios', 'happy.yaml'), 'utf8'));
  const doc = { ...happy, name: 'layouts', title: 'Production layouts (no replica)', components: { ...happy.components, replica: false } };
  delete doc.expect;
  writeFileSync(join(playbooks, 'scenarios', 'layouts.yaml'), YAML.stringify(doc));
  return playbooks;
}

beforeAll(async () => {
  process.env.UNDROP_PLAYBOOKS = noReplicaScenario();
  try {
    await labUp({ dir, scale: 2000, scenario: 'layouts' });
    layouts = await addProductionLayouts(dir);
    await labIncident({ dir });
  } finally {
    delete process.env.UNDROP_PLAYBOOKS;
  }
  truth = JSON.parse(readFileSync(join(dir, 'truth.json'), 'utf8'));
  const state = (await readState(labLayout(dir)))!;
  // Production reached with a password in the URI and an sslpassword (the lab trusts the socket, so both are only carried).
  const doc = YAML.parse(readFileSync(join(dir, 'undrop.yaml'), 'utf8'));
  doc.production.dsn = `postgresql://${state.primary!.superuser}:${encodeURIComponent(URI_PASSWORD)}@/shipping?host=${encodeURIComponent(state.socketDir)}&port=${state.primary!.port}&sslpassword=${SSL_PASSWORD}`;
  cfg = join(dir, 'undrop-secret.yaml');
  writeFileSync(cfg, YAML.stringify(doc));
  prod = { ...resolveConnParams(`host=${state.socketDir} port=${state.primary!.port} user=${state.primary!.superuser}`), database: 'shipping' };
  // The incident's dropped files are unlinked at the next checkpoint: do it now, not during a fingerprinted run.
  await withClient(prod, (c) => c.query('CHECKPOINT'));
}, 900_000);

afterAll(async () => {
  await runAllCleanups();
  if (existsSync(dir)) await labDown(labLayout(dir)).catch(() => {});
  if (!existsSync(dir)) rmSync(root, { recursive: true, force: true });
});

type Print = Map<string, string>;

/** path → size, mtime, content hash (files) or target (links), never following links. */
function fingerprint(...paths: string[]): Print {
  const out: Print = new Map();
  const walk = (p: string) => {
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isSymbolicLink()) out.set(p, `link ${readlinkSync(p)}`);
    else if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
    else out.set(p, `${st.size} ${st.mtimeMs} ${createHash('sha1').update(readFileSync(p)).digest('hex')}`);
  };
  for (const p of paths) walk(p);
  return out;
}

/** Every file of `before` is still there, unchanged (new files allowed: the live primary keeps archiving). */
function expectKept(before: Print, after: Print) {
  const changed = [...before].filter(([p, v]) => after.get(p) !== v).map(([p]) => p);
  expect(changed).toEqual([]);
}

/** Watch every process during a run: no secret on any command line; temporary servers' environments clean. */
function watchProcesses(workDir: string) {
  const leaks: string[] = [];
  const servers: number[] = [];
  let stop = false;
  const seen = new Set<number>();
  const loop = (async () => {
    while (!stop) {
      for (const pid of readdirSync('/proc').filter((x) => /^\d+$/.test(x)).map(Number)) {
        let cmd: string;
        try {
          cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
        } catch {
          continue;
        }
        for (const s of SECRETS) if (cmd.includes(s)) leaks.push(`cmdline of ${pid}: ${cmd.slice(0, 200)}`);
        if (!seen.has(pid) && /postgres/.test(cmd) && cmd.includes(workDir)) {
          try {
            const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
            seen.add(pid);
            servers.push(pid);
            for (const e of env) if (/^(PGPASSWORD|PGHOST|PGSERVICE|PGSERVICEFILE)=/.test(e) || SECRETS.some((s) => e.includes(s))) leaks.push(`environ of ${pid} (${cmd.slice(0, 80)}): ${e.split('=')[0]}`);
          } catch {
            /* gone */
          }
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    async end() {
      stop = true;
      await loop;
      return { leaks, servers };
    },
  };
}

async function sumsOf(schema: string): Promise<Record<string, TableChecksum>> {
  return withClient(prod, async (c) => {
    const out: Record<string, TableChecksum> = {};
    for (const t of SHORT) out[`public.${t}`] = await tableChecksum(c, { schema, name: t });
    return out;
  });
}

/** recover through the CLI with secrets around; returns the JSON document, the report and the timeline. */
async function recoverWatched(source: string, schema: string, workDir: string) {
  const watch = watchProcesses(workDir);
  // An explicit target: locate cannot name the dropped files without replaying a backup older than the
  // tablespace, which the replay guard refuses on this host (see the next describe).
  const r = await undrop(['-c', cfg, '--work-dir', workDir, 'recover', '--tables', TABLES_ARG, '--source', source, '--schema', schema, '--target', `xid:${truth.incident.xid}`, '--yes', '--json'], {
    env: { PGPASSWORD: PARENT_PASSWORD, PGHOST: '/nonexistent-parent-pghost' },
  });
  const { leaks, servers } = await watch.end();
  expect(r.exitCode, r.stderr).toBe(0);
  const doc = JSON.parse(r.stdout);
  const report = readFileSync(doc.report, 'utf8');
  const timeline = readFileSync(join(doc.report, '..', 'timeline.jsonl'), 'utf8');
  for (const line of timeline.trim().split('\n')) JSON.parse(line); // stays valid JSON after redaction
  for (const s of SECRETS) {
    for (const [where, text] of [['stdout', r.stdout], ['stderr', r.stderr], ['report', report], ['timeline', timeline]] as const) expect(text.includes(s), `${s} in ${where}`).toBe(false);
  }
  expect(leaks).toEqual([]);
  expect(servers.length, 'a temporary server was seen running').toBeGreaterThan(0);
  // The incident folder is announced at the start.
  expect(r.stderr).toContain(`Incident folder: ${join(doc.report, '..')}`);
  return { doc, report, stderr: r.stderr };
}

describe('recover from production layouts: nothing outside the work directory changes', () => {
  it('snapshot through a link, pg_wal on its own volume, a tablespace outside, a standby configuration: rows as at snapshot time, sources untouched, settings dropped', async () => {
    const s = layouts.san;
    const before = fingerprint(s.dir, layouts.pitr.baseBackups, join(dir, 'base-store'));
    const liveBefore = fingerprint(layouts.tablespaceDir);
    const archiveBefore = fingerprint(join(dir, 'archive'));
    const work = join(root, 'work-san');
    const { doc, report } = await recoverWatched('san', 'rec_san', work);
    expect(doc.source).toBe('san');
    expect(await sumsOf('rec_san')).toEqual(s.tables);
    expect(fingerprint(s.dir, layouts.pitr.baseBackups, join(dir, 'base-store'))).toEqual(before);
    // Production's live tablespace: copy back may add the recovered table there; nothing that was there changed.
    expectKept(liveBefore, fingerprint(layouts.tablespaceDir));
    expectKept(archiveBefore, fingerprint(join(dir, 'archive')));
    expect(existsSync(layouts.recoveryEndMarker)).toBe(false);
    // Both names of the source, and what was brought inside.
    expect(report).toContain(s.link);
    expect(report).toContain(s.dataVolume);
    expect(report).toContain(s.walVolume);
    expect(report).toContain('## Source configuration set aside');
    for (const name of ['archive_cleanup_command', 'recovery_end_command', 'synchronous_standby_names', 'shared_preload_libraries', 'data_directory', 'primary_conninfo', 'recovery_min_apply_delay', 'include_if_exists']) {
      expect(report).toMatch(new RegExp(`\\| ${name} \\|`));
    }
    expect(report).toContain(MISSING_LIBRARY);
    // Nothing left behind in the work directory's instance area.
    expect(readdirSync(join(work, 'instances'))).toEqual([]);
  });

  it('pitr: a tar base backup with a tablespace tar, reached through base-san/latest, carrying archive_cleanup_command: zero loss, archive and backups untouched', async () => {
    const before = fingerprint(layouts.pitr.baseBackups, join(dir, 'base-store'), layouts.san.dir);
    const liveBefore = fingerprint(layouts.tablespaceDir);
    const archiveBefore = fingerprint(join(dir, 'archive'));
    const work = join(root, 'work-pitr');
    const { doc, report } = await recoverWatched('wal-san', 'rec_walsan', work);
    expect(await sumsOf('rec_walsan')).toEqual(truth.beforeIncident.tables);
    expect(doc.recoveryPoint.xid).toBe(truth.incident.xid);
    expect(fingerprint(layouts.pitr.baseBackups, join(dir, 'base-store'), layouts.san.dir)).toEqual(before);
    expectKept(liveBefore, fingerprint(layouts.tablespaceDir));
    expectKept(archiveBefore, fingerprint(join(dir, 'archive')));
    expect(existsSync(layouts.recoveryEndMarker)).toBe(false);
    expect(report).toMatch(/\| archive_cleanup_command \|.*pg_archivecleanup/);
    // Both names of the backup folder: the link it was reached through and what it resolves to.
    expect(report).toContain(`Restored ${layouts.pitr.latest} (which resolves to ${layouts.pitr.backup})`);
    expect(report).toMatch(/\| recovery_end_command \|/);
    expect(readdirSync(join(work, 'instances'))).toEqual([]);
  });

  it('pgBackRest: the newest set holds the tablespace; restored into the work directory, never over the live tablespace', async () => {
    if (!layouts.pgbackrest) return;
    const before = fingerprint(layouts.san.dir, join(dir, 'base-store'));
    const liveBefore = fingerprint(layouts.tablespaceDir);
    const work = join(root, 'work-backrest');
    const { report } = await recoverWatched('backrest', 'rec_backrest', work);
    expect(await sumsOf('rec_backrest')).toEqual(truth.beforeIncident.tables);
    expect(fingerprint(layouts.san.dir, join(dir, 'base-store'))).toEqual(before);
    expectKept(liveBefore, fingerprint(layouts.tablespaceDir));
    expect(existsSync(layouts.recoveryEndMarker)).toBe(false);
    expect(report).toMatch(/\| archive_cleanup_command \|/);
  });
});

describe('replay that would re-create a live tablespace', () => {
  it('pitr from a base backup older than the tablespace: refused before anything starts; the live tablespace is untouched', async () => {
    const liveBefore = fingerprint(layouts.tablespaceDir);
    const work = join(root, 'work-old-pitr');
    const r = await undrop(['-c', cfg, '--work-dir', work, 'recover', '--tables', TABLES_ARG, '--source', 'pitr', '--schema', 'rec_oldpitr', '--target', `xid:${truth.incident.xid}`, '--yes']);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`error \\[REPLAY_WOULD_TOUCH_TABLESPACE\\]: .*${layouts.tablespaceDir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
    expect(fingerprint(layouts.tablespaceDir)).toEqual(liveBefore);
    expect(readdirSync(join(work, 'instances'))).toEqual([]);
  });

  it('pgBackRest pinned to a set older than the tablespace: the WAL is fetched and read first, the replay refused; the live tablespace is untouched', async () => {
    const state = (await readState(labLayout(dir)))!;
    const old = state.pgbackrest?.backups[0]?.label;
    if (!layouts.pgbackrest || !old) return;
    const liveBefore = fingerprint(layouts.tablespaceDir);
    const work = join(root, 'work-old-backrest');
    const r = await undrop(['-c', cfg, '--work-dir', work, 'recover', '--tables', TABLES_ARG, '--source', 'backrest', '--set', old, '--schema', 'rec_oldbr', '--target', `xid:${truth.incident.xid}`, '--yes']);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toContain('error [REPLAY_WOULD_TOUCH_TABLESPACE]');
    expect(fingerprint(layouts.tablespaceDir)).toEqual(liveBefore);
    expect(readdirSync(join(work, 'instances'))).toEqual([]);
  });

  it('locate does not replay that backup either to name the dropped files: it says why, and refuses to guess', async () => {
    const liveBefore = fingerprint(layouts.tablespaceDir);
    const r = await undrop(['-c', cfg, '--work-dir', join(root, 'work-locate'), 'locate', '--tables', TABLES_ARG]);
    expect(r.stderr).toContain("re-creates tablespace");
    expect(r.stderr).toContain("PostgreSQL's replay would empty it. Nothing was started.");
    expect(fingerprint(layouts.tablespaceDir)).toEqual(liveBefore);
  });
});

describe('a plain dump with a psql meta-command is refused', () => {
  it('\\! in a dump: exit 2, names the line, the command never runs', async () => {
    const state = (await readState(labLayout(dir)))!;
    const plain = state.dumps.find((d) => d.format === 'plain' && d.valid);
    expect(plain).toBeTruthy();
    const evilDir = join(root, 'evil');
    mkdirSync(evilDir, { recursive: true });
    const marker = join(root, 'shell-ran');
    const lines = readFileSync(plain!.path, 'utf8').split('\n');
    const at = lines.findIndex((l) => l.startsWith('SET ')) + 1;
    lines.splice(at, 0, `\\! touch ${marker}`);
    const evil = join(evilDir, 'nightly.sql');
    writeFileSync(evil, lines.join('\n'));
    const doc = YAML.parse(readFileSync(join(dir, 'undrop.yaml'), 'utf8'));
    doc.sources = [{ name: 'evil', kind: 'dump', paths: [evil] }];
    const evilCfg = join(root, 'evil.yaml');
    writeFileSync(evilCfg, YAML.stringify(doc));
    const r = await undrop(['-c', evilCfg, '--work-dir', join(root, 'work-evil'), 'recover', '--tables', TABLES_ARG, '--source', 'evil', '--target', 'latest', '--schema', 'rec_evil', '--yes']);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`error \\[DUMP_META_COMMAND\\]: .*line ${at + 1} holds the psql meta-command \\\\!`));
    expect(existsSync(marker)).toBe(false);
  });
});

describe('the work directory is private', () => {
  it('refuses a symlinked incidents folder, a folder owned by someone else, and mode 0777', async () => {
    const base = mkdtempSync(join(root, 'wd-'));
    const victim = join(base, 'victim');
    mkdirSync(victim);
    const w1 = join(base, 'w1');
    mkdirSync(w1, { mode: 0o700 });
    symlinkSync(victim, join(w1, 'incidents'));
    expect(() => IncidentLog.open({ workDir: w1, noCommands: true })).toThrow(expect.objectContaining({ code: 'WORK_DIR_UNSAFE', exitCode: 2 }));
    expect(readdirSync(victim)).toEqual([]);

    // Only root can hand a folder to another user; an ordinary user meets one that belongs to root.
    let w2 = '/';
    if (process.getuid?.() === 0) {
      w2 = join(base, 'w2');
      mkdirSync(w2, { mode: 0o700 });
      const pgUid = Number((await execa('id', ['-u', 'postgres'])).stdout);
      chownSync(w2, pgUid, pgUid);
    }
    expect(() => IncidentLog.open({ workDir: w2, noCommands: true })).toThrow(/belongs to uid|writable by other users/);

    const w3 = join(base, 'w3');
    mkdirSync(w3);
    chmodSync(w3, 0o777);
    const r = await undrop(['-c', cfg, '--work-dir', w3, 'recover', '--tables', TABLES_ARG, '--source', 'san', '--schema', 'rec_w3', '--yes']);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/error \[WORK_DIR_UNSAFE\]: .*writable by other users \(mode 777\)/);
    expect(r.stderr).toMatch(/^HINT: /m);

    // A fresh one is created private, its incident files 0600.
    const w4 = join(base, 'w4');
    const log = IncidentLog.open({ workDir: w4, noCommands: true });
    const report = log.finish({ ok: true });
    expect(lstatSync(w4).mode & 0o077 & ~0o011).toBe(0);
    expect(lstatSync(join(w4, 'incidents')).mode & 0o777).toBe(0o700);
    expect(lstatSync(report).mode & 0o777).toBe(0o600);
  });
});

describe('passwords never echoed', () => {
  async function badDsn(dsn: string) {
    const doc = YAML.parse(readFileSync(join(dir, 'undrop.yaml'), 'utf8'));
    doc.production.dsn = dsn;
    const f = join(root, `bad-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(f, YAML.stringify(doc));
    return undrop(['-c', f, '--work-dir', join(root, 'work-bad'), 'recover', '--tables', TABLES_ARG, '--source', 'san', '--yes']);
  }

  it('a mistyped key=value DSN (password without =): exit 2, no fragment of it in the output', async () => {
    const r = await badDsn('host=/tmp password hunter2 dbname=shipping');
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/DSN_INVALID/);
    expect(r.stderr + r.stdout).not.toContain('hunter2');
  });

  it('a URI whose password holds unencoded @ / # ?: exit 2, no fragment of it', async () => {
    const r = await badDsn(`postgresql://app:${URI_PASSWORD}@db1.example/shipping`);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/DSN_INVALID/);
    for (const part of ['hu@nt', 'er#2', 'nt/er', '2?x']) expect(r.stderr + r.stdout).not.toContain(part);
  });
});

describe('copies of fixtures stay fixtures', () => {
  it('the SAN snapshot still carries its links and its configuration (the test above did not pass by accident)', () => {
    expect(readlinkSync(layouts.san.link)).toBe(layouts.san.dataVolume);
    expect(readlinkSync(join(layouts.san.dataVolume, 'pg_wal'))).toBe(layouts.san.walVolume);
    expect(readFileSync(join(layouts.san.dataVolume, 'postgresql.conf'), 'utf8')).toContain(MISSING_LIBRARY);
    expect(readlinkSync(layouts.pitr.latest)).toBe(layouts.pitr.backup);
    expect(readdirSync(layouts.pitr.backup).some((f) => /^\d+\.tar\.gz$/.test(f))).toBe(true);
  });
});
