// `undrop recover`, end to end on one lab after its incident, through the
// real CLI: every source kind into its own side schema (checksums against the
// lab's ground truth), --source auto, merge (collisions after the DROP +
// recreate: refused by default, then `undrop promote` with keep-live and
// rekey-live) and replace with pitr, and the failures a responder can cause
// (unknown table, no confirmation, busy live table, existing schema, unknown
// source, a side schema changed after verify); first of all, locate (the library
// call) names exactly truth.json's transaction. One lab for the whole file.
import { existsSync, linkSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labLayout } from '../../src/lab/layout.js';
import { readState } from '../../src/lab/state.js';
import { stopWorkload } from '../../src/lab/workload.js';
import { connect, withClient } from '../../src/postgres/connect.js';
import { type ConnParams, resolveConnParams } from '../../src/postgres/conninfo.js';
import { quoteIdent } from '../../src/postgres/identifiers.js';
import { pgbackrestInfo } from '../../src/postgres/programs.js';
import { segmentForLsn } from '../../src/postgres/wal/segments.js';
import { algorithmOf, type ChecksumAlgorithm, type TableChecksum, tableChecksum } from '../../src/recovery/checksum.js';
import { locate, locateIncident } from '../../src/recovery/locate/index.js';
import { undrop } from '../cli.js';
import { testWorkDir } from '../helpers.js';
import { replicaDsnOf, useLab } from '../helpers/lab.js';
import { archiveNow } from '../helpers/archive.js';

const lab = useLab({ name: 'recover-lab', scale: 3000, delay: '10min' });
const { dir, cfg } = lab;
const SHORT = ['shipments', 'shipment_events', 'invoices'] as const;
const LOST = SHORT.map((t) => `public.${t}`);
const TABLES_ARG = SHORT.join(',');

type Sums = Record<string, TableChecksum>;
let truth: any;
let prod: ConnParams;
let replicaDsn: string;
/** ms per recover run, from the JSON document's durationMs (wall time of the CLI in parentheses). */
const timings: Record<string, string> = {};

beforeAll(() => {
  ({ truth, prod } = lab);
  replicaDsn = replicaDsnOf(lab);
});

afterAll(() => {
  console.log('recover timings (ms):', timings);
});

async function recover(label: string, args: string[], tables = TABLES_ARG) {
  const started = Date.now();
  const r = await undrop(['-c', cfg, 'recover', '--tables', tables, '--yes', '--json', ...args]);
  const wall = Date.now() - started;
  expect(r.exitCode, r.stderr).toBe(0);
  const doc = JSON.parse(r.stdout);
  timings[label] = `${doc.durationMs} (${wall})`;
  return doc;
}

/** Checksums on the lab truth's yardstick (hash128), or on `algorithm`. */
async function sumsOf(params: ConnParams, schema: string, names: readonly string[] = SHORT, settings: { lockTimeoutMs?: number } = {}, algorithm?: ChecksumAlgorithm): Promise<Sums> {
  return withClient(params, async (c) => {
    const out: Sums = {};
    for (const t of names) out[`public.${t}`] = await tableChecksum(c, { schema, name: t }, { algorithm });
    return out;
  }, settings);
}

async function q<T extends pg.QueryResultRow = any>(sql: string, params: unknown[] = []): Promise<T[]> {
  return withClient(prod, async (c) => (await c.query<T>(sql, params)).rows);
}

async function schemas(): Promise<string[]> {
  return (await q<{ n: string }>('SELECT nspname AS n FROM pg_namespace ORDER BY 1')).map((r) => r.n);
}

async function tablesLike(pattern: string): Promise<string[]> {
  return (await q<{ t: string }>("SELECT n.nspname || '.' || c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND c.relname LIKE $1 ORDER BY 1", [pattern])).map((r) => r.t);
}

/** The contract's recover document, and the tables in the side schema equal `expected`. */
async function expectRecovered(doc: any, o: { source: string; schema: string; mode?: string; expected: Sums }) {
  expect(doc).toMatchObject({ source: o.source, mode: o.mode ?? 'side-schema', schema: o.schema });
  expect(doc.recoveryPoint).toEqual(expect.objectContaining({ time: expect.any(String) }));
  expect(Object.keys(doc.recoveryPoint).sort()).toEqual(['lsn', 'time', 'xid']);
  expect(doc.durationMs).toBeGreaterThan(0);
  expect(existsSync(doc.report), doc.report).toBe(true);
  expect(readFileSync(doc.report, 'utf8')).toContain(o.schema);
  expect(doc.tables.map((t: any) => t.name).sort()).toEqual([...LOST].sort());
  for (const t of doc.tables) {
    const short = t.name.replace(/^public\./, '');
    expect(t.recoveredAs).toBe(o.mode === 'replace' ? t.name : `${o.schema}.${short}`);
    // verified on colhash64 (every column type of the lab's tables hashes by value); the truth is on hash128
    expect(t.checksum).toMatch(/^colhash64:/);
    expect(t.rows).toBe(o.expected[t.name]!.rows);
  }
  if (o.mode !== 'replace') {
    // the side schema equals the expected rows on their own yardstick, and what the document says on its own
    expect(await sumsOf(prod, o.schema, SHORT, {}, algorithmOf(o.expected['public.shipments']!.checksum))).toEqual(o.expected);
    expect(await sumsOf(prod, o.schema, SHORT, {}, 'colhash64')).toEqual(Object.fromEntries(doc.tables.map((t: any) => [t.name, { rows: t.rows, checksum: t.checksum }])));
  }
}

describe('locate on the lab', () => {
  // First: nothing but the workload has written since the incident.
  it('returns exactly the incident of truth.json with the three table names', async () => {
    const incident = truth.incident as { xid: string; commitLsn: string; firstLsn: string; database: string; tables: string[] };
    const r = await locate(lab.inventory, { workDir: testWorkDir() });
    const e = r.events.find((x) => x.xid === incident.xid);
    expect(e, JSON.stringify(r.events.map((x) => [x.kind, x.xid, x.relations.map((y) => y.name)]))).toBeDefined();
    expect(e!.kind).toBe('drop');
    expect(e!.commitLsn).toBe(incident.commitLsn);
    expect(e!.firstLsn).toBe(incident.firstLsn);
    expect(e!.database.name).toBe(incident.database);
    expect(e!.relations.map((x) => x.name).sort()).toEqual([...incident.tables].sort());
    expect(e!.recreated.map((x) => x.name).sort()).toEqual([...incident.tables].sort());
    const t = await locateIncident(lab.inventory, { tables: incident.tables.join(','), workDir: testWorkDir() });
    expect(t).toMatchObject({ kind: 'xid', xid: incident.xid, commitLsn: incident.commitLsn, inclusive: false });
  });
});

describe('recover into a side schema, one run per source kind', () => {
  it('pitr: zero loss — the pre-incident truth, recovery point just before the incident transaction', async () => {
    const doc = await recover('pitr side-schema', ['--source', 'pitr', '--mode', 'side-schema', '--schema', 'rec_pitr']);
    await expectRecovered(doc, { source: 'pitr', schema: 'rec_pitr', expected: truth.beforeIncident.tables });
    expect(doc.recoveryPoint.xid).toBe(truth.incident.xid);
    expect(doc.recoveryPoint.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
  });

  it('pgBackRest: zero loss — the pre-incident truth', async () => {
    const doc = await recover('backrest side-schema', ['--source', 'backrest', '--schema', 'rec_backrest']);
    await expectRecovered(doc, { source: 'backrest', schema: 'rec_backrest', expected: truth.beforeIncident.tables });
    // pgbackrest info ran once: the probe's answer, seconds old, served locate's scan and materialize
    const timeline = readFileSync(join(dirname(doc.report), 'timeline.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(timeline.filter((e) => e.type === 'command-start' && /pgbackrest .*--output=json info/.test(e.command))).toHaveLength(1);
    // pgBackRest's replay guard took locate's scan of the folder archive (the pitr source's), whose segments are the
    // same bytes as the repository's: no pg_waldump of its own over the WAL it fetched (its pgbackrest-wal stage).
    // (A base backup copy that locate replays to name the files has a guard of its own, over the archive folder.)
    const tablespaceReads = timeline.filter((e) => e.type === 'command-start' && /pg_waldump .*-r Tablespace/.test(e.command));
    expect(tablespaceReads.filter((e) => /pgbackrest-wal-/.test(e.command))).toEqual([]);
    expect(tablespaceReads.every((e) => e.command.includes(join(lab.dir, 'archive')))).toBe(true);
    // and the report says whose scan answered for the repository's WAL
    expect(readFileSync(doc.report, 'utf8')).toMatch(/checked for tablespaces it would re-create by locate's scan of pitr: its \d+ segment\(s\) from the repository are byte-identical/);
  });

  it('pgBackRest with no folder archive in the inventory, xid given by hand: the repository\'s WAL is fetched once, from the set\'s start to that commit; identity proven on it; nothing left behind', async () => {
    // the inventory of a shop that archives through pgBackRest alone
    const only = join(dirname(cfg), 'undrop-backrest-only.yaml');
    writeFileSync(only, readFileSync(cfg, 'utf8').replace(/^ {2}- name: pitr\n(?: {4}.*\n)+/m, ''));
    expect(readFileSync(only, 'utf8')).not.toMatch(/wal_archive/);
    const r = await undrop(['-c', only, 'recover', '--tables', TABLES_ARG, '--yes', '--json', '--source', 'backrest', '--schema', 'rec_backrest_only', '--target', `xid:${truth.incident.xid}`]);
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    await expectRecovered(doc, { source: 'backrest', schema: 'rec_backrest_only', expected: truth.beforeIncident.tables });
    // proven on the WAL the replay read, not left "not proven" for want of a folder
    expect(doc.tables.map((t: any) => t.identity)).toEqual(['proven', 'proven', 'proven']);
    const timeline = readFileSync(join(dirname(doc.report), 'timeline.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const fetches = timeline.filter((e) => e.type === 'command-start' && / archive-get /.test(e.command));
    const byLocate = fetches.filter((e) => /locate-wal-/.test(e.command)).map((e) => / archive-get ([0-9A-F]{24}) /.exec(e.command)![1]!);
    // from the newest set's first segment (not the archive's first), ending near the incident's commit
    const pgbr = (await readState(labLayout(dir)))!.pgbackrest!;
    const sets = JSON.parse((await pgbackrestInfo({ config: pgbr.config, stanza: pgbr.stanza })).stdout)[0].backup;
    expect(byLocate.sort()[0]).toBe(sets[sets.length - 1].archive.start);
    const commitSegment = segmentForLsn(1, truth.incident.commitLsn);
    expect(byLocate.filter((s) => s > commitSegment).length).toBeLessThanOrEqual(4);
    // the guard read locate's scan, and the replay locate's segments: nothing fetched twice
    expect(timeline.filter((e) => e.type === 'command-start' && /pg_waldump .*-r Tablespace/.test(e.command))).toEqual([]);
    expect(fetches.filter((e) => /\/pgbackrest-wal-/.test(e.command))).toEqual([]);
    expect(new Set(byLocate).size).toBe(byLocate.length);
    expect(readFileSync(doc.report, 'utf8')).toMatch(/the replay copies the segments that scan fetched before asking the repository/);
    // the segments kept for the replay are gone with the run
    expect(readdirSync(join(dir, 'work', 'instances')).filter((f) => /^(locate-wal|pgbackrest)/.test(f))).toEqual([]);
  });

  it('a folder archive that stopped receiving WAL before the incident, beside the stanza: locate reads the stanza and says why; recover proves the identity', async () => {
    // archive_command moved to pgBackRest, the old folder left in the inventory: its newest segment predates the incident
    const stale = join(dir, 'archive-stale');
    mkdirSync(stale, { recursive: true });
    const cut = segmentForLsn(1, truth.incident.firstLsn);
    for (const f of readdirSync(join(dir, 'archive'))) if (/^[0-9A-F]{24}$/.test(f) && f < cut) linkSync(join(dir, 'archive', f), join(stale, f));
    const staleCfg = join(dirname(cfg), 'undrop-stale-folder.yaml');
    writeFileSync(staleCfg, readFileSync(cfg, 'utf8').replace(`wal_archive: ${join(dir, 'archive')}`, `wal_archive: ${stale}`));
    expect(readFileSync(staleCfg, 'utf8')).toContain(stale);
    const r = await undrop(['-c', staleCfg, 'locate', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const found = JSON.parse(r.stdout);
    expect(found.warnings.map((w: any) => w.code)).toContain('WAL_FOLDER_BEHIND');
    expect(found.wal.source).toMatch(/backrest/);
    expect(found.events[0].xid).toBe(String(truth.incident.xid));
    const rec = await undrop(['-c', staleCfg, 'recover', '--tables', TABLES_ARG, '--yes', '--json', '--source', 'backrest', '--schema', 'rec_stale_folder', '--target', `xid:${truth.incident.xid}`]);
    expect(rec.exitCode, rec.stderr).toBe(0);
    const doc = JSON.parse(rec.stdout);
    await expectRecovered(doc, { source: 'backrest', schema: 'rec_stale_folder', expected: truth.beforeIncident.tables });
    expect(doc.tables.map((t: any) => t.identity)).toEqual(['proven', 'proven', 'proven']);
  });

  it('snapshot: the state at snapshot time', async () => {
    const doc = await recover('snapshot side-schema', ['--source', 'snapshot', '--schema', 'rec_snapshot']);
    await expectRecovered(doc, { source: 'snapshot', schema: 'rec_snapshot', expected: truth.snapshots[truth.snapshots.length - 1].tables });
  });

  it('dumps: the state at dump time (the newest valid dump)', async () => {
    const doc = await recover('dumps side-schema', ['--source', 'dumps', '--schema', 'rec_dumps']);
    // The lab's truth says which dump is the newest valid one; the recovered tables equal exactly that dump.
    const newest = truth.dumps.filter((d: any) => d.valid && d.tables).sort((a: any, b: any) => b.takenAt.localeCompare(a.takenAt))[0];
    expect(newest, JSON.stringify(truth.dumps)).toBeTruthy();
    await expectRecovered(doc, { source: 'dumps', schema: 'rec_dumps', expected: newest.tables });
  });

  it('delayed replica: paused, and equal to what the paused replica holds', async () => {
    const doc = await recover('delayed-replica side-schema', ['--source', 'delayed-replica', '--schema', 'rec_replica']);
    // The paused replica may hold the DROP's AccessExclusiveLock (replayed before the delayed COMMIT):
    // reading there then blocks. Read with a lock_timeout; when locked, compare with what undrop recorded.
    const onReplica = await sumsOf({ ...resolveConnParams(replicaDsn), database: 'shipping' }, 'public', SHORT, { lockTimeoutMs: 3000 }).catch((e) => {
      if (e.code === '55P03') return null;
      throw e;
    });
    timings['replica read in the test'] = onReplica ? 'read (no lock held)' : 'locked: compared with what undrop recorded';
    const recorded: Sums = Object.fromEntries(doc.tables.map((t: any) => [t.name, { rows: t.rows, checksum: t.checksum }]));
    await expectRecovered(doc, { source: 'delayed-replica', schema: 'rec_replica', expected: onReplica ?? recorded });
    expect(recorded['public.shipments']!.rows).toBeGreaterThan(0);
    expect(recorded['public.shipments']!.rows).toBeLessThanOrEqual(truth.beforeIncident.tables['public.shipments'].rows);
    // independent of the replica: it is behind and the workload only inserts, so every row it gave back is a pre-incident row
    for (const t of SHORT) {
      const strays = await q(`SELECT count(*)::int AS n FROM rec_replica.${t} r WHERE NOT EXISTS (SELECT 1 FROM rec_pitr.${t} p WHERE p.id = r.id AND p::text = r::text)`);
      expect(strays[0].n, t).toBe(0);
    }
    const paused = await withClient({ ...resolveConnParams(replicaDsn), database: 'shipping' }, async (c) => (await c.query('SELECT pg_get_wal_replay_pause_state() AS s')).rows[0].s);
    // while replay waits out recovery_min_apply_delay the state reads "pause requested": the
    // startup process checks it before applying the next record, so nothing more is replayed
    expect(['paused', 'pause requested']).toContain(paused);
    if (paused !== 'paused') {
      // "pause requested" while waiting out the delay: then the replay position must not move.
      const replayLsn = () => withClient({ ...resolveConnParams(replicaDsn), database: 'shipping' }, async (c) => (await c.query('SELECT pg_last_wal_replay_lsn()::text AS l')).rows[0].l as string);
      const first = await replayLsn();
      await new Promise((r) => setTimeout(r, 3000));
      expect(await replayLsn()).toBe(first);
    }
  });

  it('--source auto picks a zero-loss source (pitr or pgBackRest), not the replica paused ~10 min behind', async () => {
    const doc = await recover('auto side-schema', ['--source', 'auto', '--schema', 'rec_auto']);
    expect(['pitr', 'backrest']).toContain(doc.source);
    await expectRecovered(doc, { source: doc.source, schema: 'rec_auto', expected: truth.beforeIncident.tables });
  });
});

describe('refusals and failures through the CLI', () => {
  it('a table that is not in the source: exit 2, before any write (no new schema)', async () => {
    const before = await schemas();
    const r = await undrop(['-c', cfg, 'recover', '--tables', 'shipments,no_such_table', '--source', 'dumps', '--schema', 'rec_nope', '--yes']);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/error \[TABLE_NOT_IN_SOURCE\]: .*does not contain public\.no_such_table/);
    expect(r.stderr).toMatch(/^HINT: /m);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
    expect(await schemas()).toEqual(before);
  });

  it('only unknown tables with the default target: locate finds no destructive transaction for them (exit 1), nothing written', async () => {
    const before = await schemas();
    const r = await undrop(['-c', cfg, 'recover', '--tables', 'no_such_table', '--source', 'dumps', '--schema', 'rec_nope', '--yes']);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/error \[NO_INCIDENT_FOUND\]/);
    expect(r.stderr).toMatch(/^HINT: .*check --tables/m);
    expect(await schemas()).toEqual(before);
  });

  it('--no-input without --yes: CONFIRMATION_NEEDED, exit 2 at once, nothing happens', async () => {
    const before = await schemas();
    const incidents = join(dir, 'work', 'incidents');
    const reports = existsSync(incidents) ? readdirSync(incidents).length : 0;
    const r = await undrop(['-c', cfg, '--no-input', 'recover', '--tables', TABLES_ARG, '--source', 'pitr', '--schema', 'rec_unconfirmed']);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/error \[CONFIRMATION_NEEDED\]/);
    expect(r.stderr).toMatch(/^HINT: .*--yes/m);
    // "at once": refused before any step ran (no wall-clock figure: the machine may be busy)
    expect(r.stderr).not.toContain('Finding the destructive transaction');
    expect(r.stderr).not.toContain('Incident folder');
    expect(await schemas()).toEqual(before);
    expect(existsSync(incidents) ? readdirSync(incidents).length : 0).toBe(reports);
  });

  it('an existing --schema: refused with exit 2 before materializing; the old schema is untouched', async () => {
    const r = await undrop(['-c', cfg, 'recover', '--tables', TABLES_ARG, '--source', 'dumps', '--schema', 'rec_pitr', '--yes']);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/error \[SIDE_SCHEMA_EXISTS\]: Schema rec_pitr already exists/);
    expect(r.stderr).not.toContain('Extracting the tables');
    expect(await sumsOf(prod, 'rec_pitr')).toEqual(truth.beforeIncident.tables);
  });

  it('probe --tables warns that the recreated tables\' keys look restarted (merge will meet collisions), before anything is restored', async () => {
    const r = await undrop(['-c', cfg, '--json', 'probe', '--tables', TABLES_ARG]);
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.collisionHints.map((h: any) => h.table).sort()).toEqual(expect.arrayContaining(['public.shipment_events']));
    expect(doc.collisionHints.map((h: any) => h.table)).not.toContain('public.shipments'); // its keys come from a sequence the incident did not drop
    for (const h of doc.collisionHints) expect(BigInt(h.liveMaxKey)).toBeLessThan(BigInt(h.sourceRows));
    const human = await undrop(['-c', cfg, 'probe', '--tables', TABLES_ARG]);
    expect(human.stdout).toMatch(/^Warning: public\.shipment_events: its keys look restarted/m);
  });

  it('--source nope: exit 2, names the known sources', async () => {
    const r = await undrop(['-c', cfg, 'recover', '--tables', TABLES_ARG, '--source', 'nope', '--yes']);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/error \[SOURCE_UNKNOWN\]: There is no source named "nope"/);
    expect(r.stderr).toMatch(/^HINT: Known sources: .*pitr.*/m);
  });
});

describe('promote with pitr (workload stopped for stable counts)', () => {
  const rowsText = async (table: string): Promise<Map<string, string>> =>
    new Map((await q<{ id: string; r: string }>(`SELECT id::text AS id, r::text AS r FROM ${table} AS r`)).map((x) => [x.id, x.r]));
  const live: Record<string, Map<string, string>> = {};

  beforeAll(async () => {
    const state = await readState(labLayout(dir));
    if (state?.workload?.pid) await stopWorkload(state.workload.pid);
    // the workload wrote into the recreated tables after the incident
    for (const t of SHORT) live[t] = await rowsText(`public.${t}`);
    expect(live.shipments!.size).toBeGreaterThan(0);
    expect(live.shipment_events!.size).toBeGreaterThan(0);
  });

  /** id → the row without its id (what a rekeyed row keeps). */
  const restById = async (table: string): Promise<Map<string, string>> =>
    new Map((await q<{ id: string; r: string }>(`SELECT id::text AS id, (to_jsonb(r) - 'id')::text AS r FROM ${table} AS r`)).map((x) => [x.id, x.r]));
  const recovered: Record<string, Map<string, string>> = {};
  const post: Record<string, Map<string, string>> = {};
  const postRest: Record<string, Map<string, string>> = {};
  const reused: Record<string, string[]> = {};

  it('merge (default): exit 1 on the collisions a DROP + recreate causes, live tables unchanged; <table>__conflicts lists exactly the post-incident rows that reuse keys', async () => {
    const r = await undrop(['-c', cfg, 'recover', '--tables', TABLES_ARG, '--yes', '--json', '--source', 'pitr', '--mode', 'merge', '--schema', 'm_pitr']);
    expect(r.exitCode, r.stderr).toBe(1);
    // warned early, before anything was restored
    expect(r.stderr).toMatch(/Warning: the incident dropped and recreated public\.shipment_events; its key sequence restarted with it and \d+ row\(s\) were written since, reusing lost rows' keys\. A merge will meet collisions/);
    expect(r.stderr).toMatch(/Warning: the incident dropped and recreated public\.shipments; \d+ row\(s\) were written to it since\. Where they reuse a lost row's key/);
    expect(r.stderr.indexOf('Warning: the incident dropped')).toBeLessThan(r.stderr.indexOf('Extracting the tables'));
    expect(r.stderr).toMatch(/error \[MERGE_CONFLICTS\]: Merge stopped: .*public\.shipment_events: \d+ recovered row\(s\) whose key a live row now holds with other content \(see m_pitr\.shipment_events__conflicts\)/);
    expect(r.stderr).toMatch(/^HINT: .*--on-conflict rekey-live.*--on-conflict keep-live/m);
    expect(r.stderr).toContain('undrop promote --schema m_pitr --mode merge');
    const doc = JSON.parse(r.stdout);
    expect(doc.error).toMatchObject({ code: 'MERGE_CONFLICTS', exitCode: 1 });
    await expectRecovered(doc, { source: 'pitr', schema: 'm_pitr', mode: 'merge', expected: truth.beforeIncident.tables });
    expect(doc.promoted).toMatchObject({ mode: 'merge', onConflict: 'fail', committed: false });

    for (const t of SHORT) {
      expect(await rowsText(`public.${t}`), `${t} unchanged`).toEqual(live[t]);
      recovered[t] = await rowsText(`m_pitr.${t}`);
      post[t] = live[t]!;
      postRest[t] = await restById(`public.${t}`);
      // every live row was written after the incident (the tables were recreated); these reuse a lost row's key
      reused[t] = [...post[t]!.keys()].filter((id) => recovered[t]!.has(id)).sort();
      const entry = doc.promoted.tables.find((x: any) => x.name === `public.${t}`);
      expect(entry.conflicts, t).toBe(reused[t]!.length);
      expect(entry.inserted, t).toBe(0);
      if (reused[t]!.length) {
        expect(entry.conflictsTable).toBe(`m_pitr.${t}__conflicts`);
        expect(entry.sample.length).toBeGreaterThan(0);
        const listed = await q<{ id: string; live: string }>(`SELECT id::text AS id, live_row::text AS live FROM m_pitr.${t}__conflicts WHERE kind = 'key' ORDER BY id::text`);
        expect(listed.map((x) => x.id), t).toEqual(reused[t]);
      }
    }
    timings['lab collisions (live rows reusing lost keys)'] = JSON.stringify(Object.fromEntries(SHORT.map((t) => [t, `${reused[t]!.length} of ${post[t]!.size}`])));
    expect(reused.shipments).toEqual([]); // shipment ids come from a sequence the incident did not drop
    expect(reused.shipment_events!.length).toBeGreaterThan(0);
    expect(await tablesLike('shipments__conflicts')).toEqual([]);
    const report = readFileSync(doc.report, 'utf8');
    expect(report).toContain('## Collisions');
    expect(report).toMatch(/unresolved: merge refused, nothing live changed/);
  });

  it('undrop promote --on-conflict keep-live: the live rows win and the summary says so; the free keys are merged', async () => {
    const r = await undrop(['-c', cfg, 'promote', '--schema', 'm_pitr', '--mode', 'merge', '--on-conflict', 'keep-live', '--yes']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/merged into public\.shipment_events: \d+ rows inserted, 0 already there \(equal\); \d+ recovered rows LEFT OUT because live rows written since the incident hold their keys \(--on-conflict keep-live\), kept in m_pitr\.shipment_events__conflicts/);
    expect(r.stdout).toMatch(/^Next: public\.shipment_events: \d+ recovered row\(s\) were left out/m);
    for (const t of SHORT) {
      const after = await rowsText(`public.${t}`);
      expect(after.size, t).toBe(post[t]!.size + recovered[t]!.size - reused[t]!.length);
      for (const [id, row] of post[t]!) expect(after.get(id), `${t} ${id} (post-incident row kept)`).toBe(row);
      for (const [id, row] of recovered[t]!) if (!post[t]!.has(id)) expect(after.get(id), `${t} ${id}`).toBe(row);
    }
    const report = readFileSync(/Report: (.*)/.exec(r.stdout)![1]!.trim(), 'utf8');
    expect(report).toContain('## Side schema promoted');
    expect(report).toContain('live rows kept; recovered rows left out');
  });

  it('undrop promote --on-conflict rekey-live: every pre-incident row under its original key, every post-incident row under a new key, a child table\'s FK followed, sequences past both; a second merge inserts nothing', async () => {
    // a child table of the application, pointing at post-incident invoices whose keys a lost invoice had
    const noted = reused.invoices!.length ? reused.invoices! : reused.shipment_events!;
    const parent = reused.invoices!.length ? 'invoices' : 'shipment_events';
    await q(`CREATE TABLE public.app_notes (id serial PRIMARY KEY, ref bigint NOT NULL REFERENCES public.${parent}(id) ON UPDATE CASCADE, what text NOT NULL)`);
    await q(`INSERT INTO public.app_notes (ref, what) SELECT id, (to_jsonb(p) - 'id')::text FROM public.${parent} p WHERE id = ANY($1::bigint[])`, [noted]);

    const r = await undrop(['-c', cfg, 'promote', '--schema', 'm_pitr', '--mode', 'merge', '--on-conflict', 'rekey-live', '--yes', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ schema: 'm_pitr', mode: 'merge', source: 'pitr', promoted: { onConflict: 'rekey-live', committed: true } });
    for (const t of SHORT) {
      const after = await rowsText(`public.${t}`);
      const afterRest = await restById(`public.${t}`);
      for (const [id, row] of recovered[t]!) expect(after.get(id), `${t} ${id} (pre-incident row, original key)`).toBe(row);
      // the rows whose keys are not recovered ones are exactly the post-incident rows (content without the id)
      const newRows = [...afterRest].filter(([id]) => !recovered[t]!.has(id)).map(([, rest]) => rest).sort();
      expect(newRows, t).toEqual([...postRest[t]!.values()].sort());
      expect(after.size, t).toBe(recovered[t]!.size + post[t]!.size);
      const entry = doc.promoted.tables.find((x: any) => x.name === `public.${t}`);
      expect(entry.rekeyed, t).toBe(reused[t]!.length);
      if (reused[t]!.length) {
        const maxRecovered = Math.max(...[...recovered[t]!.keys()].map(Number), ...[...post[t]!.keys()].map(Number));
        const moved = await q<{ k: string }>(`SELECT live_new_key AS k FROM m_pitr.${t}__conflicts WHERE kind = 'key'`);
        expect(moved.length).toBe(reused[t]!.length);
        for (const m of moved) expect(Number(m.k)).toBeGreaterThan(maxRecovered);
      }
    }
    // the child rows followed their parents to the new keys
    const notes = await q<{ ref: string; what: string; now: string }>(`SELECT n.ref::text AS ref, n.what, (to_jsonb(p) - 'id')::text AS now FROM public.app_notes n JOIN public.${parent} p ON p.id = n.ref`);
    expect(notes.length).toBe(noted.length);
    for (const n of notes) {
      expect(n.now).toBe(n.what);
      expect(recovered[parent]!.has(n.ref)).toBe(false);
    }
    const report = readFileSync(doc.report, 'utf8');
    expect(report).toMatch(new RegExp(`${noted.length} row\\(s\\) of \`app_notes\` followed the new keys`));
    await expectInsertsWork();

    // a second merge: everything is there, nothing collides, nothing is inserted twice
    const counts = Object.fromEntries(await Promise.all(SHORT.map(async (t) => [t, (await rowsText(`public.${t}`)).size] as const)));
    const again = await undrop(['-c', cfg, 'promote', '--schema', 'm_pitr', '--mode', 'merge', '--yes']);
    expect(again.exitCode, again.stderr).toBe(0);
    for (const t of SHORT) expect(again.stdout).toContain(`merged into public.${t}: 0 rows inserted`);
    for (const t of SHORT) expect((await rowsText(`public.${t}`)).size).toBe(counts[t]);
    for (const t of SHORT) live[t] = await rowsText(`public.${t}`);
  });

  it('undrop promote refuses a side schema that changed since it was verified (exit 1), and a schema undrop never verified (exit 2)', async () => {
    const before = await sumsOf(prod, 'public');
    await q(`UPDATE rec_dumps.invoices SET amount = amount + 1 WHERE id = (SELECT min(id) FROM rec_dumps.invoices)`);
    const r = await undrop(['-c', cfg, 'promote', '--schema', 'rec_dumps', '--mode', 'replace', '--yes']);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/error \[SIDE_SCHEMA_CHANGED\]: The side schema rec_dumps changed since undrop verified it .*: public\.invoices\. Nothing was promoted\./);
    const n = await undrop(['-c', cfg, 'promote', '--schema', 'public', '--mode', 'merge', '--yes']);
    expect(n.exitCode, n.stderr).toBe(2);
    expect(n.stderr).toMatch(/error \[SIDE_SCHEMA_NOT_VERIFIED\]/);
    const none = await undrop(['-c', cfg, '--no-input', 'promote', '--schema', 'rec_snapshot', '--mode', 'merge']);
    expect(none.exitCode, none.stderr).toBe(2);
    expect(none.stderr).toMatch(/error \[CONFIRMATION_NEEDED\]/);
    expect(await sumsOf(prod, 'public')).toEqual(before);
    expect(await tablesLike('%_before_undrop_%')).toEqual([]);
  });

  it('a live table locked by another session: LIVE_TABLE_BUSY, exit 1, live tables unchanged', async () => {
    const before = await sumsOf(prod, 'public');
    const holder = await connect(prod, { applicationName: 'test lock holder' });
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE public.invoices IN ACCESS SHARE MODE');
      const pid = (await holder.query('SELECT pg_backend_pid() AS p')).rows[0].p;
      const r = await undrop(['-c', cfg, 'recover', '--tables', TABLES_ARG, '--source', 'dumps', '--mode', 'replace', '--schema', 'busy_dumps', '--lock-timeout', '1000', '--yes']);
      timings['dumps replace (busy)'] = 'failed as expected';
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/error \[LIVE_TABLE_BUSY\]: public\.invoices is locked by another session; gave up after 1 s\. Nothing was changed\./);
      expect(r.stderr).toContain(`pid ${pid}`);
      expect(r.stderr).toContain('test lock holder');
      expect(r.stderr).toMatch(/^HINT: .*pg_terminate_backend/m);
    } finally {
      await holder.query('ROLLBACK').catch(() => {});
      await holder.end();
    }
    expect(await sumsOf(prod, 'public')).toEqual(before);
    expect(await tablesLike('%_before_undrop_%')).toEqual([]);
  });

  it('replace puts the recovered tables in place and the post-incident live tables aside, rows intact', async () => {
    const before = await sumsOf(prod, 'public');
    const doc = await recover('pitr replace', ['--source', 'pitr', '--mode', 'replace', '--schema', 'r_pitr']);
    await expectRecovered(doc, { source: 'pitr', schema: 'r_pitr', mode: 'replace', expected: truth.beforeIncident.tables });
    expect(await sumsOf(prod, 'public')).toEqual(truth.beforeIncident.tables);
    const aside = await tablesLike('%_before_undrop_%');
    expect(aside).toHaveLength(3);
    const suffix = /_before_undrop_\d{8}_\d{6}$/.exec(aside[0]!)![0];
    expect(aside.sort()).toEqual(SHORT.map((t) => `public.${t}${suffix}`).sort());
    const asideSums = await sumsOf(prod, 'public', SHORT.map((t) => `${t}${suffix}`));
    for (const t of SHORT) expect(asideSums[`public.${t}${suffix}`], t).toEqual(before[`public.${t}`]);
    // the side schema was emptied by the move and removed
    expect(await schemas()).not.toContain('r_pitr');
    await expectInsertsWork();
  });
});

describe('names that need quoting', () => {
  const ITEMS = { schema: 'Returns', name: 'Order Items' };
  const ODD = { schema: 'Returns', name: 'we;ird"q' };
  const SQL_LIST = '"Returns"."Order Items","Returns"."we;ird""q"';
  const SIDE = 'Rec "Q";x';

  it('quoted mixed-case names and names with quotes and semicolons round-trip (pitr to the latest archived WAL, then replace)', async () => {
    // made after the incident, so only a replay to the end of the archive holds them
    const before = await withClient(prod, async (c) => {
      await c.query(`CREATE SCHEMA "Returns";
        CREATE TABLE "Returns"."Order Items" (id bigserial PRIMARY KEY, "Item Name" text NOT NULL, qty int CHECK (qty > 0));
        CREATE TABLE "Returns"."we;ird""q" (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "order" bigint REFERENCES "Returns"."Order Items" (id), note text);
        INSERT INTO "Returns"."Order Items" ("Item Name", qty) SELECT 'item ' || g || ' ''single'' "double"; semi', g FROM generate_series(1, 50) g;
        INSERT INTO "Returns"."we;ird""q" ("order", note) SELECT g, 'n' || g FROM generate_series(1, 20) g;`);
      await archiveNow(c);
      // the document's checksums are colhash64 (bigint, text, int: hashed by value); the rest of the test compares on hash128
      const row = { algorithm: 'colhash64' as const };
      return { items: await tableChecksum(c, ITEMS), odd: await tableChecksum(c, ODD), itemsRow: await tableChecksum(c, ITEMS, row), oddRow: await tableChecksum(c, ODD, row) };
    });
    expect(before.items.rows).toBe(50);

    const doc = await recover('pitr latest replace (quoted names)', ['--source', 'pitr', '--target', 'latest', '--mode', 'replace', '--schema', SIDE], SQL_LIST);
    expect(doc).toMatchObject({ source: 'pitr', mode: 'replace', schema: SIDE });
    // made after the incident: no located event names them, so their identity is not proven (and said so)
    expect(doc.tables).toEqual([
      { name: '"Returns"."Order Items"', recoveredAs: '"Returns"."Order Items"', ...before.itemsRow, identity: 'not-proven', identityReason: expect.stringContaining('not proven') },
      { name: '"Returns"."we;ird""q"', recoveredAs: '"Returns"."we;ird""q"', ...before.oddRow, identity: 'not-proven', identityReason: expect.stringContaining('not proven') },
    ]);
    expect(readFileSync(doc.report, 'utf8')).toContain('Order Items');

    await withClient(prod, async (c) => {
      expect(await tableChecksum(c, ITEMS)).toEqual(before.items);
      expect(await tableChecksum(c, ODD)).toEqual(before.odd);
      const aside = (await c.query("SELECT relname FROM pg_class WHERE relnamespace = '\"Returns\"'::regnamespace AND relkind = 'r' AND relname LIKE '%\\_before\\_undrop\\_%' ORDER BY 1")).rows.map((r) => r.relname);
      expect(aside).toHaveLength(2);
      expect(aside[0]).toMatch(/^Order Items_before_undrop_\d{8}_\d{6}$/);
      expect(aside[1]).toMatch(/^we;ird"q_before_undrop_\d{8}_\d{6}$/);
      expect(await tableChecksum(c, { schema: 'Returns', name: aside[0] })).toEqual(before.items);
      expect(await tableChecksum(c, { schema: 'Returns', name: aside[1] })).toEqual(before.odd);
      // the foreign key between the two recovered tables came along and points at the recovered parent
      const fk = await c.query(`SELECT confrelid::regclass::text AS parent FROM pg_constraint WHERE conrelid = '"Returns"."we;ird""q"'::regclass AND contype = 'f'`);
      expect(fk.rows.map((r) => r.parent)).toEqual(['"Returns"."Order Items"']);
      // sequences and identity go on past the recovered rows (WAL replay may skip up to 32 values: no clash, a gap)
      const item = Number((await c.query(`INSERT INTO "Returns"."Order Items" ("Item Name", qty) VALUES ('new', 1) RETURNING id`)).rows[0].id);
      expect(item).toBeGreaterThan(50);
      expect(Number((await c.query(`INSERT INTO "Returns"."we;ird""q" ("order", note) VALUES ($1, 'new') RETURNING id`, [item])).rows[0].id)).toBeGreaterThan(20);
    });
    expect(await schemas()).not.toContain(SIDE);
  });
});

/** The application's write path and plain inserts use the sequences/identity without clashing. */
async function expectInsertsWork() {
  await withClient(prod, async (c) => {
    const max = async (t: string) => BigInt((await c.query(`SELECT coalesce(max(id), 0)::text AS m FROM public.${quoteIdent(t)}`)).rows[0].m);
    const [ev, inv] = [await max('shipment_events'), await max('invoices')];
    // record_shipment() swallows errors and returns NULL: a non-null id means all its inserts worked
    for (let i = 0; i < 3; i++) expect((await c.query('SELECT record_shipment() AS id')).rows[0].id).not.toBeNull();
    const sid = (await c.query('SELECT max(id) AS id FROM public.shipments')).rows[0].id;
    const e = await c.query("INSERT INTO public.shipment_events (shipment_id, event) VALUES ($1, 'test insert') RETURNING id", [sid]);
    expect(BigInt(e.rows[0].id)).toBeGreaterThan(ev);
    const i = await c.query("INSERT INTO public.invoices (customer, amount, issued_at) VALUES ('test', 1, now()) RETURNING id");
    expect(BigInt(i.rows[0].id)).toBeGreaterThan(inv);
  });
}
