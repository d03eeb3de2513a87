// The production half of `undrop recover`, after a source was materialized:
// copy back into the side schema → verify → (confirmed) promote, every step
// recorded in the incident log. The command does the other half (probe,
// choose, materialize) and feeds those results to the same log.
import type { PgBinaries } from '../postgres/binaries.js';
import { type ConnParams, describe } from '../postgres/conninfo.js';
import { displayName, type TableName } from '../postgres/identifiers.js';
import type { Materialized } from '../sources/types.js';
import { type CopyBackResult, copyBack } from './copy-back.js';
import type { IncidentLog, RecoverMode } from './incident-log.js';
import { type MergeResult, promoteMerge } from './promote-merge.js';
import { promoteReplace, type ReplaceResult } from './promote-replace.js';
import { verifyCopy, verifyPairs, type VerifyResult } from './verify.js';

export interface PromotePlan {
  mode: 'replace' | 'merge';
  tables: { name: string; from: string; rows: number }[];
}

export interface CopyBackPipelineRequest {
  bin: PgBinaries;
  log: IncidentLog;
  /** Name of the source the instance came from (for the report). */
  sourceName: string;
  materialized: Pick<Materialized, 'conn' | 'database' | 'recoveryPoint' | 'tables' | 'notes'>;
  production: ConnParams;
  tables: TableName[];
  mode: RecoverMode;
  schema?: string;
  workDir: string;
  lockTimeoutMs?: number;
  recreateForeignKeys?: boolean;
  /** Asked before promote with the tables and row counts; false stops after the side schema (no error). Omitted = yes (--yes). */
  confirmPromote?: (plan: PromotePlan) => Promise<boolean>;
}

export interface CopyBackPipelineResult {
  copyBack: CopyBackResult;
  verify: VerifyResult;
  replace?: ReplaceResult;
  merge?: MergeResult;
  /** True when promote was asked for but not confirmed. */
  promoteDeclined: boolean;
}

export async function copyBackVerifyPromote(req: CopyBackPipelineRequest): Promise<CopyBackPipelineResult> {
  const { log } = req;
  const source = { conn: req.materialized.conn, database: req.materialized.database };
  log.record('mode', req.mode);
  log.record('production', describe(req.production));
  if (!log.facts.tables) log.record('tables', req.tables.map((t) => displayName(t)));
  if (!log.facts.materialized) {
    log.record('materialized', { source: req.sourceName, recoveryPoint: req.materialized.recoveryPoint, tables: req.materialized.tables, notes: req.materialized.notes });
  }
  if (req.materialized.recoveryPoint.lsn) log.lsn('recovery point', req.materialized.recoveryPoint.lsn, req.sourceName);

  const cb = await log.step('copy back', () => copyBack({ bin: req.bin, source, production: req.production, tables: req.tables, schema: req.schema, workDir: req.workDir, timeline: log }), { schema: req.schema ?? null });
  log.record('copyBack', cb);
  const verify = await log.step('verify', () => verifyCopy({ source, production: req.production, pairs: verifyPairs(cb), timeline: log }));
  log.record('verify', verify);

  const out: CopyBackPipelineResult = { copyBack: cb, verify, promoteDeclined: false };
  if (req.mode === 'side-schema') return out;
  const plan: PromotePlan = { mode: req.mode, tables: cb.tables.map((t) => ({ name: t.name, from: t.recoveredAsName, rows: t.rows })) };
  if (req.confirmPromote && !(await req.confirmPromote(plan))) {
    log.event('promote-declined', { mode: req.mode });
    out.promoteDeclined = true;
    return out;
  }
  if (req.mode === 'replace') {
    out.replace = await log.step('promote (replace)', () => promoteReplace({ production: req.production, tables: cb.tables, lockTimeoutMs: req.lockTimeoutMs, recreateForeignKeys: req.recreateForeignKeys, timeline: log }));
    log.record('replace', out.replace);
    // the promoted tables are the recovered ones under their original names: check them again
    out.verify = await log.step('verify after replace', () => verifyCopy({ source, production: req.production, pairs: verifyPairs(cb, 'original'), timeline: log }));
    log.record('verify', out.verify);
  } else {
    out.merge = await log.step('promote (merge)', () => promoteMerge({ production: req.production, tables: cb.tables, lockTimeoutMs: req.lockTimeoutMs, timeline: log }));
    log.record('merge', out.merge);
  }
  return out;
}
