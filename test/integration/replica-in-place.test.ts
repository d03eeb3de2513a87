// recover from a paused delayed replica read in place: no temporary instance
// (no initdb, no data directory under the work dir), the DDL and the rows
// straight from the replica, which stays paused and unchanged; the side
// schema equals the lab's truth for the replica's state (paused just before
// the incident: the pre-incident tables). Then --jobs 1: the same rows, and
// never more than one undrop connection on production during copy back
// (sampled from a side connection).
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect, withClient } from '../../src/postgres/connect.js';
import { resolveConnParams } from '../../src/postgres/conninfo.js';
import { type ChecksumAlgorithm, type TableChecksum, tableChecksum } from '../../src/recovery/checksum.js';
import { sleep } from '../../src/util/time.js';
import { undrop } from '../cli.js';
import { replicaDsnOf, REPLICA_AND_WAL, useLab } from '../helpers/lab.js';

const lab = useLab({ name: 'inplace', scale: 3000, delay: '10min', incident: 'paused-before-incident', components: REPLICA_AND_WAL });
const SHORT = ['shipments', 'shipment_events', 'invoices'] as const;

type Sums = Record<string, TableChecksum>;

/** On the lab truth's yardstick (hash128), or on `algorithm`. */
async function sumsOf(conn: ReturnType<typeof resolveConnParams>, schema: string, algorithm?: ChecksumAlgorithm): Promise<Sums> {
  return withClient(conn, async (c) => {
    const out: Sums = {};
    for (const t of SHORT) out[`public.${t}`] = await tableChecksum(c, { schema, name: t }, { algorithm });
    return out;
  }, { lockTimeoutMs: 3000 });
}

/** What a user checks on the replica: paused where it was, same rows, no schema of undrop's. */
async function replicaState() {
  const replica = { ...resolveConnParams(replicaDsnOf(lab)), database: 'shipping' };
  const r = await withClient(replica, async (c) => (await c.query("SELECT pg_get_wal_replay_pause_state() AS s, pg_last_wal_replay_lsn()::text AS l, (SELECT count(*)::int FROM pg_namespace WHERE nspname LIKE 'undrop%') AS own")).rows[0]);
  return { pause: r.s as string, replayLsn: r.l as string, undropSchemas: r.own as number, sums: await sumsOf(replica, 'public') };
}

/** Every path under dir (the work dir is private to root; the test runs as root or as the same user). */
function walk(dir: string, depth = 6): string[] {
  let out: string[] = [];
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    out.push(p);
    if (e.isDirectory() && depth > 0) out = out.concat(walk(p, depth - 1));
  }
  return out;
}

/** Samples `probe` until `stop` resolves (a tight loop: copy back of a small lab is short). */
async function sampleWhile<T>(run: Promise<unknown>, probe: () => Promise<T> | T): Promise<T[]> {
  let done = false;
  void run.finally(() => {
    done = true;
  });
  const seen: T[] = [];
  while (!done) {
    seen.push(await probe());
    await sleep(10);
  }
  return seen;
}

describe('recover from a paused delayed replica, read in place', () => {
  it('no temporary instance; the side schema equals the truth; the replica stays paused and unchanged', async () => {
    const before = await replicaState();
    expect(before.pause).toBe('paused');
    expect(before.sums).toEqual(lab.truth.beforeIncident.tables);
    const work = join(lab.root, 'work-inplace');
    mkdirSync(work, { recursive: true, mode: 0o755 });
    const run = undrop(['-c', lab.cfg, '--work-dir', work, '--json', 'recover', '--tables', SHORT.join(','), '--source', 'delayed-replica', '--target-xid', String(lab.truth.incident.xid), '--schema', 'rec_inplace', '--yes'], { timeoutMs: 300_000 });
    const seen = new Set<string>();
    await sampleWhile(run, () => walk(work).forEach((p) => seen.add(p)));
    const r = await run;
    expect(r.exitCode, r.stderr.slice(-3000)).toBe(0);
    const doc = JSON.parse(r.stdout);
    // the watch did see the run's own files (its incident folder): it was looking at the right place
    expect([...seen].some((p) => p.endsWith('timeline.jsonl') || p.endsWith('report.md')), [...seen].slice(0, 20).join('\n')).toBe(true);
    const serverFiles = [...seen].filter((p) => /\/(PG_VERSION|postgresql\.conf|postmaster\.pid)$/.test(p));
    expect(serverFiles, 'no temporary instance under the work dir').toEqual([]);
    expect(doc.source).toBe('delayed-replica');
    for (const t of doc.tables) {
      expect(t.identity, `${t.name}: ${t.identityReason}`).toBe('proven');
      // verified on colhash64 (the lab's column types hash by value); the truth is on hash128
      expect(t.rows).toBe(lab.truth.beforeIncident.tables[t.name].rows);
      expect(t.checksum).toMatch(/^colhash64:/);
    }
    expect(await sumsOf(lab.prod, 'rec_inplace')).toEqual(lab.truth.beforeIncident.tables);
    expect(await sumsOf(lab.prod, 'rec_inplace', 'colhash64')).toEqual(Object.fromEntries(doc.tables.map((t: any) => [t.name, { rows: t.rows, checksum: t.checksum }])));
    // keys and indexes came along (pg_dump -t's post-data, renamed into the side schema)
    const idx = await withClient(lab.prod, async (c) => (await c.query("SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = 'rec_inplace'")).rows[0].n as number);
    const idxLive = await withClient({ ...resolveConnParams(replicaDsnOf(lab)), database: 'shipping' }, async (c) => (await c.query("SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY($1)", [[...SHORT]])).rows[0].n as number);
    expect(idx).toBe(idxLive);
    expect(idx).toBeGreaterThan(0);
    // The side schema is published only after the identity verdict, whether copy back waited for the WAL scan
    // or started before it (then the timeline says so and the publish waited at the gate).
    const timeline = readFileSync(join(dirname(doc.report), 'timeline.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const at = (pred: (e: any) => boolean) => timeline.findIndex(pred);
    const verdict = at((e) => e.type === 'step-end' && e.step === 'identity check');
    const publish = at((e) => e.type === 'step-start' && e.step === 'publish (ALTER SCHEMA … RENAME)');
    expect(verdict).toBeGreaterThanOrEqual(0);
    expect(publish).toBeGreaterThan(verdict);
    // the row counts ran alongside copy back: the recorded source rows are the exact ones, in before the publish
    const materialized = timeline.map((e, i) => (e.type === 'fact' && e.key === 'materialized' ? i : -1)).reduce((a, b) => Math.max(a, b), -1);
    expect(materialized).toBeGreaterThanOrEqual(0);
    expect(materialized).toBeLessThan(publish);
    expect(Object.fromEntries(timeline[materialized].value.tables.map((t: any) => [t.name, t.rows]))).toEqual(Object.fromEntries(doc.tables.map((t: any) => [t.name, lab.truth.beforeIncident.tables[t.name].rows])));
    const early = at((e) => e.type === 'copy-back-before-identity');
    if (early >= 0) expect(early).toBeLessThan(at((e) => e.type === 'step-start' && e.step === 'copy back'));
    else expect(verdict).toBeLessThan(at((e) => e.type === 'step-start' && e.step === 'copy back'));
    const after = await replicaState();
    expect(after).toEqual(before);
  }, 600_000);

  it('--jobs 1: same rows, and at most one undrop connection on production during copy back', async () => {
    const sampler = await connect(lab.prod, { applicationName: 'test sampler' });
    try {
      const run = undrop(['-c', lab.cfg, '--json', 'recover', '--tables', SHORT.join(','), '--source', 'delayed-replica', '--target-xid', String(lab.truth.incident.xid), '--schema', 'rec_jobs1', '--jobs', '1', '--yes'], { timeoutMs: 300_000 });
      // client backends only: parallel index build workers are server processes, not connections
      const samples = await sampleWhile(run, async () => {
        const r = await sampler.query<{ copy: number; all: number }>(
          `SELECT count(*) FILTER (WHERE application_name LIKE 'undrop copy back%')::int AS copy, count(*)::int AS all
             FROM pg_stat_activity WHERE backend_type = 'client backend' AND application_name LIKE 'undrop%' AND pid <> pg_backend_pid()`,
        );
        return r.rows[0]!;
      });
      const r = await run;
      expect(r.exitCode, r.stderr.slice(-3000)).toBe(0);
      const during = samples.filter((s) => s.copy > 0);
      console.log(`--jobs 1: ${samples.length} samples, ${during.length} during copy back, max undrop connections then: ${Math.max(0, ...during.map((s) => s.all))}`);
      expect(during.length, 'the sampler saw copy back at work').toBeGreaterThan(0);
      expect(Math.max(...during.map((s) => s.all))).toBeLessThanOrEqual(1);
      const doc = JSON.parse(r.stdout);
      for (const t of doc.tables) expect(t.rows).toBe(lab.truth.beforeIncident.tables[t.name].rows);
      expect(await sumsOf(lab.prod, 'rec_jobs1')).toEqual(lab.truth.beforeIncident.tables);
      expect(await sumsOf(lab.prod, 'rec_jobs1', 'colhash64')).toEqual(Object.fromEntries(doc.tables.map((t: any) => [t.name, { rows: t.rows, checksum: t.checksum }])));
    } finally {
      await sampler.end();
    }
  }, 600_000);
});
