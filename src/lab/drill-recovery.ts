// The recovery half of a drill: probe every source, locate the incident,
// recover the lost tables into a side schema with undrop's own recover
// checklist, and score the result against truth.json.
import { join } from 'node:path';
import { loadInventory } from '../inventory/load.js';
import { withClient } from '../postgres/connect.js';
import { resolveConnParams } from '../postgres/conninfo.js';
import { parseTableName } from '../postgres/identifiers.js';
import { algorithmOf, tableChecksum } from '../recovery/checksum.js';
import { locate } from '../recovery/locate/index.js';
import { type RecoverDocument, recoverIncident, type RecoverUi } from '../recovery/recover-checklist.js';
import { probeAll } from '../sources/probe-all.js';
import type { TargetSpec } from '../sources/target.js';
import type { Truth } from './incident.js';
import { LOST_TABLES } from './dataset.js';
import type { Progress } from './progress.js';

export interface DrillScore {
  source: string | null;
  /** Every lost table back with exactly its pre-incident rows. */
  exact: boolean;
  tables: { name: string; expectedRows: number; recoveredRows: number; checksumEqual: boolean }[];
  /** Rows of the pre-incident state that the recovered copy does not have. */
  rowsMissing: number;
}

export async function drillProbe(dir: string) {
  const inv = await loadInventory(join(dir, 'undrop.yaml'));
  return probeAll(inv, { tables: LOST_TABLES.map(parseTableName) });
}

export async function drillLocate(dir: string) {
  const inv = await loadInventory(join(dir, 'undrop.yaml'));
  return locate(inv, { tables: LOST_TABLES.map(parseTableName), workDir: inv.workDir });
}

/** Recover with --source auto --mode side-schema --yes, reporting progress as lab notes. */
/**
 * The target a non-interactive drill passes: before-incident, or - when locate
 * could name no table (no catalog from before the incident, as in the seed
 * story) - the newest candidate's xid, as a person does after reading locate.
 */
export function drillTarget(located: { events: { xid: number | string; unnamedReason?: string }[] } | undefined): TargetSpec {
  const top = located?.events[0];
  return top?.unnamedReason ? { kind: 'xid', xid: String(top.xid) } : { kind: 'before-incident' };
}

export async function drillRecover(dir: string, progress: Progress, target: TargetSpec = { kind: 'before-incident' }): Promise<RecoverDocument> {
  const inv = await loadInventory(join(dir, 'undrop.yaml'));
  const ui: RecoverUi = {
    step: async (title, fn) => {
      progress({ type: 'note', text: `  ${title}` });
      return fn((m) => progress({ type: 'note', text: `    ${m}` }));
    },
    confirm: async () => true,
    info: (m) => progress({ type: 'note', text: `  ${m}` }),
  };
  return recoverIncident(
    { inventory: inv, tables: LOST_TABLES.map(parseTableName), source: 'auto', target, mode: 'side-schema', keep: false, workDir: inv.workDir ?? join(dir, 'work') },
    ui,
  );
}

/** Compare the side-schema copy in production with the lab's ground truth. */
export async function drillScore(dir: string, truth: Truth, doc: RecoverDocument): Promise<DrillScore> {
  const inv = await loadInventory(join(dir, 'undrop.yaml'));
  return withClient(resolveConnParams(inv.production.dsn), async (c) => {
    const tables: DrillScore['tables'] = [];
    for (const t of doc.tables) {
      const expected = truth.beforeIncident.tables[t.name];
      // on truth's own yardstick (an older lab's truth.json may hold md5 sums)
      const got = await tableChecksum(c, parseTableName(t.recoveredAs), { algorithm: expected ? algorithmOf(expected.checksum) : undefined });
      tables.push({ name: t.name, expectedRows: expected?.rows ?? 0, recoveredRows: got.rows, checksumEqual: !!expected && got.checksum === expected.checksum });
    }
    return {
      source: doc.source,
      exact: tables.length === LOST_TABLES.length && tables.every((t) => t.checksumEqual),
      tables,
      rowsMissing: tables.reduce((n, t) => n + Math.max(0, t.expectedRows - t.recoveredRows), 0),
    };
  });
}
