// `lab score`: the scorecard of a drill, from what can be checked afterwards.
// Rows: every copy of a lost table in production (side schemas, or the live
// table after a promote) against truth.json. Times, the source and the order
// of writes: undrop's incident timelines in the lab's work folder (a team
// working by hand leaves none: those lines say "not recorded"). Mistakes: a
// usable delayed replica that replayed the incident before the rows were
// back, a side schema undrop made that is gone without a promote.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { usageError } from '../errors.js';
import { loadInventory } from '../inventory/load.js';
import { withClient } from '../postgres/connect.js';
import { resolveConnParams } from '../postgres/conninfo.js';
import { parseTableName } from '../postgres/identifiers.js';
import { algorithmOf, tableChecksum } from '../recovery/checksum.js';
import { STEP_REFS } from '../playbooks/refs.js';
import type { Truth } from './incident.js';
import { labLayout } from './layout.js';
import { loadScenario } from './scenarios.js';
import { requireState } from './state.js';

type Sums = Record<string, { rows: number; checksum: string }>;

export interface ScoreTable {
  name: string;
  /** Rows just before the incident (truth.json). */
  expectedRows: number;
  recoveredRows: number;
  lostRows: number;
  /** Recovered with exactly the pre-incident content. */
  exact: boolean;
  /** Where the best copy is, schema-qualified; null when none. */
  foundIn: string | null;
}

export interface Mistake {
  code: 'REPLICA_RESUMED_BEFORE_EXTRACTION' | 'SIDE_SCHEMA_DROPPED_BEFORE_PROMOTE' | 'PRODUCTION_WRITTEN_BEFORE_VERIFY';
  message: string;
  /** The runbook step that says how to do it (FILE#STEP). */
  playbookStep: string;
}

export interface Scorecard {
  scenario: string;
  incidentAt: string;
  scoredAt: string;
  tables: ScoreTable[];
  rowsRecovered: number;
  rowsLost: number;
  /** Milliseconds from the incident's commit to the delayed replica's pause (null: no pause recorded). */
  timeToPauseMs: number | null;
  /** Milliseconds from the incident to the rows verified back (null: nothing recovered). */
  timeToRecoveredMs: number | null;
  /** How recoveredAt is known: undrop's verify step, or the time of scoring (an upper bound). */
  recoveredBasis: 'undrop verify' | 'scored at' | null;
  source: { used: string | null; best: string | null; matchesBest: boolean; basis: 'undrop log' | 'checksums' | null };
  productionWritesBeforeVerification: number;
  mistakes: Mistake[];
  perfect: boolean;
}

interface TimelineEntry {
  ts: string;
  type: string;
  step?: string;
  key?: string;
  value?: unknown;
  schema?: string | null;
}

/** Every undrop incident timeline under the work folder, oldest first (pure reading; no folder is created). */
function readTimelines(workDir: string): TimelineEntry[][] {
  const dir = join(workDir, 'incidents');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((d) => join(dir, d, 'timeline.jsonl'))
    .filter((f) => existsSync(f))
    .map((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .filter(Boolean)
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as TimelineEntry];
          } catch {
            return [];
          }
        }),
    );
}

/** Which truth a set of checksums equals: the pre-incident state, a snapshot, or a dump (pure; unit-tested). */
export function sourceByChecksums(truth: Pick<Truth, 'beforeIncident' | 'snapshots' | 'dumps'>, got: Sums): string | null {
  const same = (t: Sums | null | undefined) => !!t && Object.keys(got).length > 0 && Object.entries(got).every(([k, v]) => t[k]?.checksum === v.checksum && t[k]?.rows === v.rows);
  if (same(truth.beforeIncident.tables)) return 'a zero-loss source (delayed replica copy, PITR or pgBackRest)';
  if (truth.snapshots.some((s) => same(s.tables))) return 'snapshot';
  if (truth.dumps.some((d) => same(d.tables))) return 'dumps';
  return null;
}

/** The score's verdict from its parts (pure; unit-tested). */
export function isPerfect(c: Pick<Scorecard, 'tables' | 'source' | 'mistakes' | 'productionWritesBeforeVerification'>): boolean {
  return c.tables.length > 0 && c.tables.every((t) => t.exact && t.lostRows === 0) && c.source.matchesBest && c.mistakes.length === 0 && c.productionWritesBeforeVerification === 0;
}

export async function labScore(o: { dir?: string; now?: Date } = {}): Promise<Scorecard> {
  const layout = labLayout(o.dir);
  const state = await requireState(layout);
  if (state.state !== 'incident' || !existsSync(layout.truthFile)) {
    throw usageError('LAB_NO_INCIDENT', `The lab in ${layout.dir} has had no incident yet: there is nothing to score.`, `Run \`undrop lab incident --dir ${layout.dir}\` (or \`undrop lab drill --guided\`), recover, then score.`);
  }
  const truth = JSON.parse(readFileSync(layout.truthFile, 'utf8')) as Truth;
  const scenario = loadScenario(state.scenario);
  const inv = await loadInventory(layout.inventoryFile);
  const scoredAt = (o.now ?? new Date()).toISOString();
  const incidentAt = truth.incident.commitTime ?? state.incidentAt ?? scoredAt;
  const since = (ts: string | null | undefined) => (ts ? Math.max(0, Date.parse(ts) - Date.parse(incidentAt)) : null);
  const prod = resolveConnParams(inv.production.dsn);

  // Every copy of each lost table in production; the best one counts.
  const copies: Record<string, Sums> = {};
  const schemas = await withClient(prod, async (c) => {
    const tables: ScoreTable[] = [];
    const present: string[] = [];
    for (const name of truth.tables) {
      const t = parseTableName(name);
      const expected = truth.beforeIncident.tables[name]!;
      const found = await c.query<{ nspname: string }>(
        "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = $1 AND c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1",
        [t.name],
      );
      let best: ScoreTable = { name, expectedRows: expected.rows, recoveredRows: 0, lostRows: expected.rows, exact: false, foundIn: null };
      for (const { nspname } of found.rows) {
        const sums = await tableChecksum(c, { schema: nspname, name: t.name }, { algorithm: algorithmOf(expected.checksum) }); // truth's own yardstick
        const exact = sums.checksum === expected.checksum && sums.rows === expected.rows;
        // The live table after the incident counts only when a promote made it exact (it also holds new rows).
        if (nspname === (t.schema ?? 'public') && !exact) continue;
        (copies[nspname] ??= {})[name] = sums;
        const rows = Math.min(sums.rows, expected.rows);
        if (exact || (!best.exact && rows > best.recoveredRows)) best = { name, expectedRows: expected.rows, recoveredRows: exact ? expected.rows : rows, lostRows: exact ? 0 : expected.rows - rows, exact, foundIn: `${nspname}.${t.name}` };
      }
      tables.push(best);
      present.push(...found.rows.map((r) => r.nspname));
    }
    return { tables, present: new Set(present) };
  });
  const tables = schemas.tables;

  // undrop's own record of the recovery, when the team used it.
  const timelines = readTimelines(inv.workDir ?? join(layout.dir, 'work'));
  let pausedAt: string | null = null;
  let verifiedAt: string | null = null;
  let used: string | null = null;
  let writesBeforeVerify = 0;
  const mistakes: Mistake[] = [];
  for (const tl of timelines) {
    let verified = false;
    const promoted = new Set<string>();
    const made: string[] = [];
    for (const e of tl) {
      if (e.type === 'step-end' && e.step?.startsWith('pause ') && !pausedAt) pausedAt = e.ts;
      if (e.type === 'step-end' && e.step === 'verify') {
        verified = true;
        verifiedAt ??= e.ts;
      }
      if (e.type === 'fact' && e.key === 'chosen' && e.value && typeof e.value === 'object') used = String((e.value as { name?: string }).name ?? used);
      if (e.type === 'step-start' && e.step === 'copy back' && e.schema) made.push(e.schema);
      if (e.type === 'step-start' && /^promote \((replace|merge)\)$/.test(e.step ?? '')) {
        if (!verified) writesBeforeVerify++;
        for (const s of made) promoted.add(s);
      }
      if (e.type === 'fact' && e.key === 'promotedFrom' && e.value && typeof e.value === 'object') promoted.add(String((e.value as { schema?: string }).schema));
    }
    for (const s of made) {
      if (!schemas.present.has(s) && !promoted.has(s)) mistakes.push({ code: 'SIDE_SCHEMA_DROPPED_BEFORE_PROMOTE', message: `Side schema ${s} (made by undrop) is gone, and it was never promoted.`, playbookStep: STEP_REFS.afterwards });
    }
  }
  if (writesBeforeVerify) mistakes.push({ code: 'PRODUCTION_WRITTEN_BEFORE_VERIFY', message: `${writesBeforeVerify} promote(s) wrote the live tables before the side schema was verified.`, playbookStep: STEP_REFS.copyBack });

  const allExact = tables.every((t) => t.exact);
  // A delayed replica that could have given the rows back and has replayed the incident before they were back.
  if (state.replica && state.replica.delay.trim() !== '0' && !allExact) {
    const r = inv.sources.find((s) => s.kind === 'delayed-replica') as { dsn: string } | undefined;
    const replayed = r
      ? await withClient(resolveConnParams(r.dsn), async (c) => {
          const q = await c.query<{ t: Date | null }>('SELECT pg_last_xact_replay_timestamp() AS t');
          return !!q.rows[0]!.t && q.rows[0]!.t.getTime() >= Date.parse(incidentAt);
        }).catch(() => false)
      : false;
    if (replayed) mistakes.push({ code: 'REPLICA_RESUMED_BEFORE_EXTRACTION', message: 'The delayed replica was never paused (or resumed too early): it has replayed the incident, and the lost rows are not all back.', playbookStep: STEP_REFS.pauseReplica });
  }

  const recovered = tables.some((t) => t.recoveredRows > 0);
  const bestCopy = Object.values(copies).find((sums) => truth.tables.every((n) => sums[n])) ?? {};
  const basis = used ? 'undrop log' : recovered ? 'checksums' : null;
  used ??= recovered ? sourceByChecksums(truth, bestCopy) : null;
  const best = scenario.expect?.best_source ?? null;
  const rowsLost = tables.reduce((n, t) => n + t.lostRows, 0);
  // Any zero-loss source is as good as the best one; otherwise the team had to pick the best.
  const matchesBest = recovered && (rowsLost === 0 || (used !== null && best !== null && (used === best || used.startsWith(best))));
  const card: Scorecard = {
    scenario: state.scenario,
    incidentAt,
    scoredAt,
    tables,
    rowsRecovered: tables.reduce((n, t) => n + t.recoveredRows, 0),
    rowsLost,
    timeToPauseMs: since(pausedAt),
    timeToRecoveredMs: recovered ? since(verifiedAt ?? scoredAt) : null,
    recoveredBasis: recovered ? (verifiedAt ? 'undrop verify' : 'scored at') : null,
    source: { used, best, matchesBest, basis },
    productionWritesBeforeVerification: writesBeforeVerify,
    mistakes,
    perfect: false,
  };
  card.perfect = isPerfect(card);
  return card;
}
