// The trust rules on one lab, through the real CLI: the right moment (a
// second recovery after dropping the side schema as the report says, and
// after an unrelated table came and went, still gets the pre-incident rows),
// the right table (the identity check fails a run forced past the incident,
// before production is written), an unnamed-only candidate needs --target,
// and a table in a mixed-case schema comes back from every source kind.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { labLayout } from '../../src/lab/layout.js';
import { readState } from '../../src/lab/state.js';
import { findBinaries } from '../../src/postgres/binaries.js';
import { Lsn } from '../../src/postgres/wal/lsn.js';
import { lastCommitAtOrBefore, replicaWalDirs } from '../../src/sources/delayed-replica/replay-commit.js';
import { withClient } from '../../src/postgres/connect.js';
import { type ConnParams } from '../../src/postgres/conninfo.js';
import { tableChecksum } from '../../src/recovery/checksum.js';
import { undrop } from '../cli.js';
import { useLab } from '../helpers/lab.js';
import { archiveNow as archiveOn } from '../helpers/archive.js';

const lab = useLab({ name: 'trust', scale: 2000, delay: '10min', timeoutMs: 900_000 });
const { root, dir, cfg } = lab;
const LOST = 'shipments,shipment_events,invoices';
const MIXED = '"Sales"."Order Items"';
let truth: any;
let prod: ConnParams;
/** xid of the first side-schema drop (a transaction after the incident). */
let sideSchemaDropXid: string | undefined;

beforeAll(() => {
  ({ truth, prod } = lab);
});

async function recover(args: string[], config = cfg) {
  const r = await undrop(['-c', config, 'recover', '--yes', '--json', ...args], { timeoutMs: 900_000 });
  return { ...r, doc: r.exitCode === 0 ? JSON.parse(r.stdout) : undefined };
}

async function sql<T = any>(text: string, params: unknown[] = []): Promise<T[]> {
  return withClient(prod, async (c) => (await c.query(text, params)).rows as T[]);
}

/** Switch WAL and wait until the segment is archived: locate and PITR read the archive. */
async function archiveNow(): Promise<void> {
  await withClient(prod, (c) => archiveOn(c));
}

async function schemas(): Promise<string[]> {
  return (await sql<{ n: string }>('SELECT nspname AS n FROM pg_namespace ORDER BY 1')).map((r) => r.n);
}

async function sideSums(schema: string, names = ['shipments', 'shipment_events', 'invoices']) {
  return withClient(prod, async (c) => {
    const out: Record<string, unknown> = {};
    for (const n of names) out[`public.${n}`] = await tableChecksum(c, { schema, name: n });
    return out;
  });
}

describe('a table in a mixed-case schema ("Sales"."Order Items": identity, domain, check, comment, TOASTed jsonb)', () => {
  for (const source of ['pitr', 'backrest', 'snapshot', 'dumps', 'delayed-replica']) {
    it(`comes back from ${source}, identity proven`, async () => {
      const schema = `Mixed ${source}`;
      const r = await recover(['--tables', MIXED, '--source', source, '--schema', schema]);
      expect(r.exitCode, r.stderr).toBe(0);
      const [t] = r.doc.tables;
      // verified on colhash64 (identity bigint, text, a domain over integer, numeric, jsonb all hash by value); truth is on hash128
      expect(t).toMatchObject({ name: MIXED, rows: truth.mixedCase.truth.rows, checksum: expect.stringMatching(/^colhash64:/), identity: 'proven' });
      expect(t.rows).toBeGreaterThan(0);
      await withClient(prod, async (c) => {
        expect(await tableChecksum(c, { schema, name: 'Order Items' })).toEqual(truth.mixedCase.truth);
        expect(await tableChecksum(c, { schema, name: 'Order Items' }, { algorithm: 'colhash64' })).toEqual({ rows: t.rows, checksum: t.checksum });
        const toasted = await c.query(`SELECT count(*)::int AS n FROM "${schema}"."Order Items" WHERE pg_column_size(details) > 2000`);
        expect(toasted.rows[0].n).toBeGreaterThan(0);
        const checks = await c.query(`SELECT conname FROM pg_constraint WHERE conrelid = format('%I.%I', $1::text, 'Order Items')::regclass AND contype = 'c'`, [schema]);
        expect(checks.rows.length).toBeGreaterThan(0);
      });
    }, 900_000);
  }
});

describe('the right moment: recover, drop the side schema as the report says, an unrelated table comes and goes, recover again', () => {
  const expected = (source: string) => (source === 'snapshot' ? truth.snapshots[truth.snapshots.length - 1].tables : truth.beforeIncident.tables);
  for (const source of ['pitr', 'backrest', 'snapshot']) {
    it(`${source}: the pre-incident rows both times`, async () => {
      const first = await recover(['--tables', LOST, '--source', source]);
      expect(first.exitCode, first.stderr).toBe(0);
      expect(await sideSums(first.doc.schema)).toEqual(expected(source));
      expect(first.doc.tables.map((t: any) => t.identity)).toEqual(['proven', 'proven', 'proven']);

      // the report's own advice, word for word
      const advice = /`(DROP SCHEMA "[^`]+" CASCADE;)`/.exec(readFileSync(first.doc.report, 'utf8'));
      expect(advice, 'the report says how to drop the side schema').toBeTruthy();
      await withClient(prod, async (c) => {
        await c.query('BEGIN');
        const xid = (await c.query('SELECT pg_current_xact_id()::text AS x')).rows[0].x as string;
        await c.query(advice![1]!);
        await c.query('COMMIT');
        sideSchemaDropXid ??= xid;
        // a scratch table made after every backup, then dropped
        await c.query(`CREATE TABLE scratch_${source} (id int PRIMARY KEY, v text); INSERT INTO scratch_${source} SELECT g, 'x' FROM generate_series(1, 500) g; DROP TABLE scratch_${source};`);
      });
      await archiveNow();

      const second = await recover(['--tables', LOST, '--source', source]);
      expect(second.exitCode, second.stderr).toBe(0);
      expect(second.doc.schema).not.toBe(first.doc.schema);
      expect(await sideSums(second.doc.schema)).toEqual(expected(source));
      expect(second.doc.tables.map((t: any) => t.identity)).toEqual(['proven', 'proven', 'proven']);
      if (source !== 'snapshot') expect(second.doc.recoveryPoint.xid).toBe(truth.incident.xid);
    }, 1_800_000);
  }

  it('locate lists the side-schema drops apart, never as incidents', async () => {
    const r = await undrop(['-c', cfg, 'locate', '--tables', LOST, '--json'], { timeoutMs: 600_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.events[0].xid).toBe(truth.incident.xid);
    const brief = (e: any) => [e.xid, e.kind, e.relations.map((x: any) => x.name ?? x.relfilenode).join(' ')];
    expect(doc.undrop.map((e: any) => e.xid), JSON.stringify({ events: doc.events.map(brief), undrop: doc.undrop.map(brief), ignored: doc.ignored.map(brief) })).toContain(sideSchemaDropXid);
    expect(doc.events.map((e: any) => e.xid)).not.toContain(sideSchemaDropXid);
  }, 600_000);
});

describe('the right table: the identity check', () => {
  it('fails a run forced past the incident (--target xid: of the side-schema drop), nothing written to production', async () => {
    expect(sideSchemaDropXid).toBeDefined();
    const before = await schemas();
    const r = await recover(['--tables', LOST, '--source', 'pitr', '--target-xid', sideSchemaDropXid!, '--schema', 'forced_past']);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/does not hold the lost table/);
    expect(r.stderr).toContain(`transaction ${truth.incident.xid} removed`);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(await schemas()).toEqual(before);
  }, 900_000);
});

describe('an unnamed-only candidate', () => {
  it('--yes alone refuses (exit 2) and the hint names --target', async () => {
    // Another inventory on the same lab: WAL but no base backup and no replica to name files with.
    const inv = readFileSync(cfg, 'utf8');
    const emptyBackups = join(root, 'no-backups');
    rmSync(emptyBackups, { recursive: true, force: true });
    mkdirSync(emptyBackups, { recursive: true });
    const doc = parseYaml(inv);
    const pitr = doc.sources.find((s: any) => s.kind === 'pitr');
    doc.sources = [{ ...pitr, base_backups: emptyBackups }];
    const other = join(root, 'unnamed.yaml');
    writeFileSync(other, stringifyYaml(doc));
    await sql('CREATE TABLE scratch_only (id int PRIMARY KEY); INSERT INTO scratch_only SELECT generate_series(1, 100); DROP TABLE scratch_only;');
    await archiveNow();
    const before = await schemas();
    const r = await recover(['--tables', 'scratch_only'], other);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toContain('no catalog could name');
    expect(r.stderr).toMatch(/--target xid:\d+/);
    expect(r.stderr).toContain('--yes');
    expect(await schemas()).toEqual(before);
  }, 600_000);
});

describe('--set pins one backup, dump or snapshot', () => {
  it('dumps: the named dump file, not the newest', async () => {
    const valid = truth.dumps.filter((d: any) => d.valid && d.tables).sort((a: any, b: any) => a.takenAt.localeCompare(b.takenAt));
    expect(valid.length).toBeGreaterThan(0);
    const oldest = valid[0];
    const r = await recover(['--tables', LOST, '--source', 'dumps', '--set', basename(oldest.path), '--schema', 'pinned_dump']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await sideSums('pinned_dump')).toEqual(oldest.tables);
    expect(r.doc.tables.map((t: any) => t.identity)).toEqual(['proven', 'proven', 'proven']);
  }, 900_000);

  it('an unknown label is bad input (exit 2) that names the ones there are; nothing written', async () => {
    const before = await schemas();
    const r = await recover(['--tables', LOST, '--source', 'pitr', '--set', 'no-such-backup', '--schema', 'pinned_nope']);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--set no-such-backup/);
    expect(r.stderr).toMatch(/Known: \S+/);
    expect(await schemas()).toEqual(before);
  }, 900_000);
});

describe("the DBA's target flags on the lab", () => {
  it('--target-time with microseconds (the incident commit time locate prints): the pre-incident rows, identity proven', async () => {
    const loc = await undrop(['-c', cfg, 'locate', '--tables', LOST, '--json'], { timeoutMs: 600_000 });
    expect(loc.exitCode, loc.stderr).toBe(0);
    const incident = JSON.parse(loc.stdout).events[0];
    expect(incident.xid).toBe(truth.incident.xid);
    expect(incident.commitTime).toMatch(/\.\d{6}Z$/);
    const r = await recover(['--tables', LOST, '--source', 'pitr', '--target-time', incident.commitTime, '--schema', 'by_time']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain(`before ${incident.commitTime.replace('T', ' ').replace('Z', ' UTC')}`);
    expect(await sideSums('by_time')).toEqual(truth.beforeIncident.tables);
    expect(r.doc.tables.map((t: any) => t.identity)).toEqual(['proven', 'proven', 'proven']);
  }, 900_000);

  it('--target-name: recovery stops at the restore point; nothing locates it, so the report says "identity not proven"', async () => {
    await sql("SELECT pg_create_restore_point('trust_after_incident')");
    await archiveNow();
    const r = await recover(['--tables', MIXED, '--source', 'pitr', '--target-name', 'trust_after_incident', '--schema', 'by_name']);
    expect(r.exitCode, r.stderr).toBe(0);
    // the table the incident recreated (empty), not the lost one: and undrop does not claim otherwise
    expect(r.doc.tables[0]).toMatchObject({ name: MIXED, rows: 0, identity: 'not-proven' });
    expect(readFileSync(r.doc.report, 'utf8')).toContain('identity not proven');
  }, 900_000);
});

describe('a delayed replica that replayed no commit since it started', () => {
  it('its replay position maps to the last commit at or before it in the archive (what its recovery point then says)', async () => {
    const state = (await readState(labLayout(dir)))!;
    const bin = await findBinaries(state.pg.major);
    // as if the replica had stopped replaying right at the incident's COMMIT record
    const c = await lastCommitAtOrBefore(bin, replicaWalDirs(state.archive!, undefined), 1, truth.incident.commitLsn);
    expect(c).toBeDefined();
    expect(Lsn.before(c!.lsn, truth.incident.commitLsn)).toBe(true);
    expect(c!.xid).not.toBe(truth.incident.xid);
    expect(Date.parse(c!.time)).toBeLessThanOrEqual(Date.parse(truth.incident.commitTime));
    // the lab is younger than the replica's delay: "now − delay" would lie before every backup it was built from
    const oldestBackup = Math.min(...truth.baseBackups.map((b: any) => Date.parse(b.takenAt)));
    expect(Date.parse(c!.time)).toBeGreaterThan(oldestBackup);
  }, 600_000);
});
