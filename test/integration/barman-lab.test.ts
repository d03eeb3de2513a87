// Barman as a source, on the barman-only lab (a real Barman: streaming
// archiver through a slot, backup_method postgres): probe lists its backups
// and ranks it, locate reads the WAL through barman get-wal, recover brings
// back the lab's truth, verify restores it; a FAILED backup and a WAL gap in
// Barman's folder are reported. Barman's backup and WAL folders are
// fingerprinted around every test: nothing undrop does changes a file in
// them. (`barman recover` itself first files WAL that has already arrived,
// as `barman cron` does every minute: new segments, appended to xlog.db.)
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { removeSegment } from '../../src/lab/defects.js';
import { labDown } from '../../src/lab/down.js';
import { labIncident } from '../../src/lab/incident.js';
import { labLayout } from '../../src/lab/layout.js';
import { readState } from '../../src/lab/state.js';
import { labUp } from '../../src/lab/up.js';
import { stopWorkload } from '../../src/lab/workload.js';
import { barmanBackupEndWal, barmanFlush } from '../../src/lab/barman.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { withClient } from '../../src/postgres/connect.js';
import { resolveConnParams } from '../../src/postgres/conninfo.js';
import { segmentForLsn } from '../../src/postgres/wal/segments.js';
import { tableChecksum } from '../../src/recovery/checksum.js';
import { probeAll } from '../../src/sources/probe-all.js';
import { findBinaries } from '../../src/postgres/binaries.js';
import type { PlaybookDocument } from '../../src/playbooks/render.js';
import { undrop } from '../cli.js';
import { runRunbook } from '../runbook.js';
import { testWorkDir, waitUntil } from '../helpers.js';

const installed = (await execa('barman', ['--version'], { reject: false }).catch(() => undefined))?.exitCode === 0;
const root = mkdtempSync(join(testWorkDir(), 'barman-'));
chmodSync(root, 0o755);
const dir = join(root, 'lab');
const cfg = join(dir, 'undrop.yaml');
const layout = labLayout(dir);
const serverHome = join(layout.barmanHome, 'lab');
const SHORT = ['shipments', 'shipment_events', 'invoices'];
let truth: any;
let inv: Inventory;

/** path → size, mtime, content hash of every file under Barman's base/ and wals/ folders. */
function fingerprint(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (p: string) => {
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
    else if (p.endsWith('/xlog.db')) out.set(p, readFileSync(p, 'utf8'));
    else out.set(p, `${st.size} ${st.mtimeMs} ${createHash('sha1').update(readFileSync(p)).digest('hex')}`);
  };
  walk(join(serverHome, 'base'));
  walk(join(serverHome, 'wals'));
  return out;
}

function targetOfTruth() {
  return { kind: 'lsn' as const, commitLsn: truth.incident.commitLsn, firstLsn: truth.incident.firstLsn, time: truth.incident.commitTime, inclusive: false as const, origin: 'test' };
}

let before: Map<string, string>;

describe.skipIf(!installed)('Barman source on the barman-only lab', () => {
  beforeAll(async () => {
    await labUp({ dir, scale: 2000, scenario: 'barman-only' });
    await labIncident({ dir });
    // verify compares the restore with production: production stands still from here on, and Barman has all of its WAL.
    const state = (await readState(layout))!;
    await stopWorkload(state.workload!.pid);
    await barmanFlush(state.barman!.config);
    truth = JSON.parse(readFileSync(layout.truthFile, 'utf8'));
    inv = await loadInventory(cfg);
  }, 600_000);

  afterAll(async () => {
    await runAllCleanups();
    if (existsSync(dir)) await labDown(labLayout(dir)).catch(() => {});
    if (!existsSync(dir)) rmSync(root, { recursive: true, force: true });
  });

  beforeEach(() => {
    before = fingerprint();
  });
  afterEach(() => {
    // Read-only: every backup and WAL file is exactly as it was; the only additions are newly filed WAL segments.
    const after = fingerprint();
    const changed = [...before].filter(([p, v]) => (p.endsWith('/xlog.db') ? !after.get(p)?.startsWith(v) : after.get(p) !== v)).map(([p]) => p);
    expect(changed).toEqual([]);
    const added = [...after.keys()].filter((p) => !before.has(p));
    for (const p of added) expect(p).toMatch(/\/wals\/[0-9A-F]{16}\/[0-9A-F]{24}$/);
  });

  it('lab up added the Barman source; probe lists its backup and ranks it first, reaching the incident', async () => {
    const src = inv.sources.find((s) => s.kind === 'barman');
    expect(src).toMatchObject({ name: 'barman', server: 'lab' });
    const state = (await readState(layout))!;
    const id = state.barman!.backups[0]!.id!;
    const rep = await probeAll(inv, { target: targetOfTruth(), deep: true });
    const b = rep.sources.find((s) => s.name === 'barman')!;
    expect(b.status, JSON.stringify(b.findings)).toBe('usable');
    // --deep: barman verify-backup (pg_verifybackup against the backup's manifest).
    expect(b.findings.map((f) => f.code)).toContain('BARMAN_VERIFIED');
    expect(rep.ranking[0]).toBe('barman');
    expect(b.items!.map((i) => i.label)).toContain(id);
    expect(b.findings.find((f) => f.code === 'BACKUP')!.message).toMatch(/LSN [0-9A-F]+\/[0-9A-F]+ … [0-9A-F]+\/[0-9A-F]+/);
    expect(b.recoveryPoint?.lsn).toBe(truth.incident.firstLsn);
    expect(b.lossWindowMs).toBe(0);
  });

  it('locate reads the WAL through barman get-wal and names the dropped tables (Barman\'s backup gives the catalog)', async () => {
    const r = await undrop(['-c', cfg, '--json', 'locate', '--tables', SHORT.join(',')]);
    expect(r.exitCode, r.stderr.slice(-1500)).toBe(0);
    expect(r.stderr).toContain('barman get-wal');
    const doc = JSON.parse(r.stdout);
    const ev = doc.events[0];
    expect(ev.xid).toBe(truth.incident.xid);
    expect(ev.relations.map((x: { name: string }) => x.name)).toEqual(expect.arrayContaining(SHORT.map((t) => `public.${t}`)));
  });

  it('verify restores the Barman source (before any side schema exists in production)', async () => {
    const r = await undrop(['-c', cfg, '--json', 'verify', '--source', 'barman'], { timeoutMs: 600_000 });
    expect(r.exitCode, r.stderr.slice(-2000)).toBe(0);
    const doc = JSON.parse(r.stdout);
    const s = doc.sources.find((x: { name: string }) => x.name === 'barman');
    expect(s).toMatchObject({ ok: true, checked: 'restored' });
  });

  it('recover --source barman --target before-incident brings back the tables equal to truth.json', async () => {
    const r = await undrop(['-c', cfg, 'recover', '--tables', SHORT.join(','), '--source', 'barman', '--target', 'before-incident', '--schema', 'rec_barman', '--yes', '--json']);
    expect(r.exitCode, r.stderr.slice(-2000)).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.source).toBe('barman');
    expect(doc.recoveryPoint.xid).toBe(truth.incident.xid);
    const prod = { ...resolveConnParams(inv.production.dsn), database: 'shipping' };
    const sums = await withClient(prod, async (c) => {
      const out: Record<string, unknown> = {};
      for (const t of SHORT) out[`public.${t}`] = await tableChecksum(c, { schema: 'rec_barman', name: t });
      return out;
    });
    expect(sums).toEqual(truth.beforeIncident.tables);
    for (const t of doc.tables) expect(t.identity).toBe('proven');
  });

  // Runbooks are written for the server's OS user (its default role owns the copy): executed as root only, like runbooks.test.ts.
  (process.getuid?.() === 0 ? it : it.skip)('the barman runbook, executed as printed, leaves a side schema equal to truth.json', async () => {
    const r = await undrop(['-c', cfg, '--json', 'playbook', 'barman', '--target', `xid:${truth.incident.xid}`, '--schema', 'rb_barman', '--restore-dir', join(root, 'rb')]);
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as PlaybookDocument;
    expect(doc.steps.find((s) => s.id === 'recover')!.commands[0]!.run).toContain(`--target-xid ${truth.incident.xid} --exclusive`);
    const pgBin = (await findBinaries()).dir;
    try {
      await runRunbook(doc, { pgBin });
    } catch (e) {
      await runRunbook(doc, { pgBin, only: ['cleanup'] }).catch(() => {});
      throw e;
    }
    const prod = { ...resolveConnParams(inv.production.dsn), database: 'shipping' };
    const sums = await withClient(prod, async (c) => {
      const out: Record<string, unknown> = {};
      for (const t of SHORT) out[`public.${t}`] = await tableChecksum(c, { schema: 'rb_barman', name: t });
      return out;
    });
    expect(sums).toEqual(truth.beforeIncident.tables);
  });

  describe('failures', () => {
    // These change Barman's catalog on purpose: the fingerprint is taken after the damage.
    it('a FAILED Barman backup is unusable, named, and the DONE one is still chosen', async () => {
      const state = (await readState(layout))!;
      // A backup throttled to 32 kB/s cannot finish before its pg_basebackup is stopped: Barman marks it FAILED.
      const run = execa('barman', ['-c', state.barman!.config, 'backup', '--immediate-checkpoint', '--bwlimit', '32', 'lab'], { reject: false });
      try {
        // The copying pg_basebackup (it writes --pgdata=…), not the `pg_basebackup --version` Barman runs first.
        await waitUntil('barman backup\'s pg_basebackup is stopped', async () => {
          const ps = await execa('ps', ['-o', 'pid=,args=', '--ppid', String(run.pid)], { reject: false });
          const line = ps.stdout.split('\n').find((l) => l.includes('pg_basebackup') && l.includes('--pgdata='));
          if (!line) return false;
          try {
            process.kill(Number(line.trim().split(/\s+/)[0]), 'SIGTERM');
            return true;
          } catch {
            return false;
          }
        }, { tries: 600, everyMs: 100 });
        await run;
      } finally {
        run.kill('SIGTERM');
      }
      before = fingerprint();
      const rep = await probeAll(inv, { target: targetOfTruth() });
      const b = rep.sources.find((s) => s.name === 'barman')!;
      const failed = b.items!.find((i) => i.findings.some((f) => f.code === 'BACKUP_FAILED'));
      expect(failed, JSON.stringify(b.items)).toBeDefined();
      expect(failed!.status).toBe('unusable');
      expect(failed!.label).not.toBe(state.barman!.backups[0]!.id);
      expect(b.status).toBe('usable');
      expect(rep.ranking[0]).toBe('barman');
      // --set pins a backup: a FAILED one is refused (exit 1), an unknown id is bad input (exit 2); nothing is restored.
      const pin = (set: string) => undrop(['-c', cfg, '--json', 'recover', '--tables', 'shipments', '--source', 'barman', '--target', `xid:${truth.incident.xid}`, '--set', set, '--schema', 'rec_pin', '--yes']);
      // Refused right after the probe: the target's WAL scan (barman get-wal, pg_waldump, a catalog instance) is stopped, not waited for.
      const leftBehind = async () => {
        const work = join(dir, 'work');
        const ps = (await execa('ps', ['-eo', 'args='])).stdout.split('\n').filter((l) => l.includes(work) || (l.includes('get-wal') && l.includes(state.barman!.config)));
        const area = join(work, 'instances');
        return { ps, folders: existsSync(area) ? readdirSync(area) : [] };
      };
      const bad = await pin(failed!.label);
      expect(bad.exitCode, bad.stderr.slice(-800)).toBe(1);
      expect(JSON.parse(bad.stdout).error.code).toBe('BACKUP_NOT_DONE');
      expect(await leftBehind()).toEqual({ ps: [], folders: [] });
      const unknown = await pin('20200101T000000');
      expect(unknown.exitCode, unknown.stderr.slice(-800)).toBe(2);
      expect(JSON.parse(unknown.stdout).error.code).toBe('SET_UNKNOWN');
      expect(await leftBehind()).toEqual({ ps: [], folders: [] });
    });

    it('a WAL gap in Barman\'s folder: WAL_GAP names the segment and the last reachable commit; the loss window is not zero', async () => {
      const state = (await readState(layout))!;
      // The WAL segment Barman's DONE backup ends in, from Barman's own catalog (show-backup latest).
      const backupEnd = (await barmanBackupEndWal(state.barman!.config))!;
      expect(backupEnd).toMatch(/^[0-9A-F]{24}$/);
      const incidentSeg = segmentForLsn(1, truth.incident.firstLsn);
      const wals = readdirSync(join(serverHome, 'wals', incidentSeg.slice(0, 16))).filter((n) => /^[0-9A-F]{24}$/.test(n)).sort();
      // the last segment before the incident's: the WAL still reachable then holds commits after the backup
      // (the first one after the backup's end may hold none, and the last reachable commit is then honestly unknown)
      const gap = wals.filter((n) => n > backupEnd && n < incidentSeg).pop();
      expect(gap, `${backupEnd} … ${incidentSeg}: ${wals.join(' ')}`).toBeDefined();
      await removeSegment(layout, state, gap!, ['barman']);
      before = fingerprint();
      const rep = await probeAll(inv, { target: targetOfTruth() });
      const b = rep.sources.find((s) => s.name === 'barman')!;
      const f = b.findings.find((x) => x.code === 'WAL_GAP');
      expect(f, JSON.stringify(b.findings)).toBeDefined();
      expect(f!.message).toContain(gap!);
      expect(f!.message).toMatch(/last reachable commit is \d{4}-/);
      expect(b.lossWindowMs).toBeGreaterThan(0);
      // recover to the incident cannot cross the gap: a typed failure naming the segment, exit 1, production untouched.
      const r = await undrop(['-c', cfg, '--json', 'recover', '--tables', 'shipments', '--source', 'barman', '--target', `xid:${truth.incident.xid}`, '--schema', 'rec_gap', '--yes']);
      expect(r.exitCode, r.stderr.slice(-1500)).toBe(1);
      expect(JSON.parse(r.stdout).error, r.stderr.slice(-1500)).toMatchObject({ code: 'BARMAN_WAL_MISSING' });
      expect(JSON.parse(r.stdout).error.message).toContain(gap!);
      const prod = { ...resolveConnParams(inv.production.dsn), database: 'shipping' };
      expect(await withClient(prod, async (c) => (await c.query("SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'rec_gap'")).rows[0].n)).toBe(0);
    });
  });
});
