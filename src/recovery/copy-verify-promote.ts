// The production half of `undrop recover`, after a source was materialized:
// copy back into the side schema → verify → (confirmed) promote, every step
// recorded in the incident log. The command does the other half (probe,
// choose, materialize) and feeds those results to the same log.
import type { PgBinaries } from '../postgres/binaries.js';
import { type ConnParams, describe } from '../postgres/conninfo.js';
import { displayName, type TableName } from '../postgres/identifiers.js';
import type { Materialized } from '../sources/types.js';
import { type CopyBackRequest, type CopyBackResult, copyBack } from './copy-back.js';
import { withClient } from '../postgres/connect.js';
import type { IncidentLog, RecoverMode } from './incident-log.js';
import type { OnConflict } from './merge-conflicts.js';
import { isMergeRefusal, type MergePreviewTable, type MergeResult, mergePreview, promoteMerge } from './promote-merge.js';
import { writeRecord } from './side-record.js';
import { promoteReplace, type ReplaceResult } from './promote-replace.js';
import { dependentLines, dependentsRefusal, type LiveDependents, replacePreview } from './live-dependents.js';
import { verifyCopy, verifyPairs, type VerifyResult } from './verify.js';

export interface PromotePlan {
  mode: 'replace' | 'merge';
  tables: { name: string; from: string; rows: number }[];
  /** Merge only: what it would meet per table (read before asking, without locks: merge counts again under its lock). */
  merge?: MergePreviewTable[];
  /** Merge only: what happens to collisions. */
  onConflict?: OnConflict;
  /** Replace only: objects other than foreign keys that point at the live tables. */
  dependents?: LiveDependents[];
}

/** The lines under the promote question. Pure. */
export function promotePlanLines(plan: PromotePlan): string[] {
  if (plan.merge) return mergePlanLines(plan.merge);
  return [...plan.tables.map((t) => `${t.name}: ${t.rows} rows from ${t.from}`), ...dependentLines(plan.dependents ?? [])];
}

/** One line per table of what merge would do (for the confirmation). Pure. */
export function mergePlanLines(preview: MergePreviewTable[]): string[] {
  const lines = preview.map((p) =>
    p.refused
      ? `${p.name}: merge refused (${p.refused})`
      : `${p.name}: ${p.missing} rows to insert, ${p.skipped} already there${p.conflicts ? `, ${p.conflicts} COLLISIONS (a live row written since the incident holds the key with other content)` : ''}${p.triggers?.length ? `; its triggers ${p.triggers.join(', ')} fire for every row merged (audit, outbox)` : ''}`,
  );
  return preview.some((p) => p.conflicts > 0) ? [...lines, '(counted now; while the application writes, merge counts again under its lock)'] : lines;
}

/** The promote question, with the collision choice when merge meets any. Pure. */
export function promoteQuestion(plan: PromotePlan): string {
  const where = 'the live tables';
  if (plan.mode === 'replace') return `Replace ${where} with the recovered ones? The live tables are renamed aside (never dropped).`;
  const choice = { fail: 'refuse and change nothing live (--on-conflict fail)', 'keep-live': 'keep the live rows, leave those recovered rows out (--on-conflict keep-live)', 'rekey-live': 'give the live rows new keys, recovered rows keep theirs (--on-conflict rekey-live)' } as const;
  const collisions = plan.merge?.some((p) => p.conflicts > 0) ? ` Collisions: ${choice[plan.onConflict ?? 'fail']}.` : '';
  return `Merge: insert the recovered rows missing from ${where} (by primary key)?${collisions}`;
}

/** Run merge with a choice for collisions; refusals are recorded in the incident log before they are thrown. */
export async function runMerge(log: IncidentLog, req: Parameters<typeof promoteMerge>[0]): Promise<MergeResult> {
  try {
    const r = await log.step('promote (merge)', () => promoteMerge({ ...req, timeline: log }));
    log.record('merge', r);
    return r;
  } catch (e) {
    if (isMergeRefusal(e)) log.record('merge', e.merge);
    throw e;
  }
}

export interface CopyBackPipelineRequest {
  bin: PgBinaries;
  log: IncidentLog;
  /** Name of the source the instance came from (for the report). */
  sourceName: string;
  materialized: Pick<Materialized, 'conn' | 'database' | 'recoveryPoint' | 'tables' | 'notes' | 'rowsFrom' | 'inPlace'>;
  production: ConnParams;
  tables: TableName[];
  mode: RecoverMode;
  schema?: string;
  workDir: string;
  /** --jobs: production connections copy back opens at once (default: the tables, up to 4). */
  jobs?: number;
  /** --toast-compression (CopyBackRequest.toastCompression). */
  toastCompression?: CopyBackRequest['toastCompression'];
  lockTimeoutMs?: number;
  statementTimeoutMs?: number;
  recreateForeignKeys?: boolean;
  allowDependents?: boolean;
  /** Asked before promote with the tables and row counts; false stops after the side schema (no error). Omitted = yes (--yes). */
  confirmPromote?: (plan: PromotePlan) => Promise<boolean>;
  /** Merge: what to do with collisions (--on-conflict); undefined = ask through chooseOnConflict when there are any, else fail. */
  onConflict?: OnConflict;
  /** Guided flow: asked when the merge preview found collisions and --on-conflict was not given. */
  chooseOnConflict?: (plan: PromotePlan) => Promise<OnConflict>;
  /** Copy back's progress lines (bytes and rows per table, index builds). */
  onProgress?: (message: string) => void;
  /** Awaited right before the side schema is published (before any verify, preview or promote); a rejection drops the staging schema. */
  beforePublish?: () => Promise<void>;
  /** Copy back's source-side row counts, handed over as they start (CopyBackRequest.onSourceRows). */
  onSourceRows?: CopyBackRequest['onSourceRows'];
  /** CopyBackRequest.onSourceMoved. */
  onSourceMoved?: CopyBackRequest['onSourceMoved'];
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
  const source = { conn: req.materialized.conn, database: req.materialized.database, rows: req.materialized.rowsFrom, readOnly: !!req.materialized.inPlace };
  log.record('mode', req.mode);
  log.record('production', describe(req.production));
  if (!log.facts.tables) log.record('tables', req.tables.map((t) => displayName(t)));
  if (!log.facts.materialized) {
    log.record('materialized', { source: req.sourceName, recoveryPoint: req.materialized.recoveryPoint, tables: req.materialized.tables, notes: req.materialized.notes });
  }
  if (req.materialized.recoveryPoint.lsn) log.lsn('recovery point', req.materialized.recoveryPoint.lsn, req.sourceName);

  const cb = await log.step('copy back', () => copyBack({ bin: req.bin, source, production: req.production, tables: req.tables, schema: req.schema, workDir: req.workDir, parallel: req.jobs, toastCompression: req.toastCompression, timeline: log, onProgress: req.onProgress, beforePublish: req.beforePublish, onSourceRows: req.onSourceRows, onSourceMoved: req.onSourceMoved }), { schema: req.schema ?? null });
  log.record('copyBack', cb);
  // both sides were checksummed during the copy: this compares them
  const verify = await log.step('verify', () => verifyCopy({ source, production: req.production, pairs: verifyPairs(cb), timeline: log, known: cb.checksums }));
  log.record('verify', verify);
  if (verify.ok) {
    // What `undrop promote` checks again later: the checksums proved here, kept on the side schema itself.
    const checked = new Map(verify.tables.map((v) => [v.name, v]));
    await withClient(req.production, (c) =>
      writeRecord(c, cb.schema, {
        version: 1,
        verifiedAt: new Date().toISOString(),
        source: req.sourceName,
        recoveryPoint: { time: req.materialized.recoveryPoint.time ?? null, lsn: req.materialized.recoveryPoint.lsn ?? null },
        report: log.reportPath,
        tables: cb.tables.map((t) => ({ name: t.name, original: t.original, recoveredAs: t.recoveredAs, rows: checked.get(t.name)!.copy.rows, checksum: checked.get(t.name)!.copy.checksum })),
      }),
    );
  }

  const out: CopyBackPipelineResult = { copyBack: cb, verify, promoteDeclined: false };
  if (req.mode === 'side-schema') return out;
  const plan: PromotePlan = { mode: req.mode, tables: cb.tables.map((t) => ({ name: t.name, from: t.recoveredAsName, rows: t.rows })) };
  let onConflict = req.onConflict;
  if (req.mode === 'merge') {
    plan.merge = await log.step('merge preview', () => mergePreview(req.production, cb.tables));
    log.event('merge-preview', { tables: plan.merge });
    if (onConflict === undefined && req.chooseOnConflict && plan.merge.some((p) => p.conflicts > 0)) onConflict = await req.chooseOnConflict(plan);
    plan.onConflict = onConflict ?? 'fail';
  }
  if (req.mode === 'replace') {
    plan.dependents = await log.step('replace preview', () => replacePreview(req.production, cb.tables));
    log.event('replace-preview', { dependents: plan.dependents });
    // Refused before the question: the side schema stays, and promote can be run later with the flag.
    if (plan.dependents.length && !req.allowDependents) throw dependentsRefusal(plan.dependents, `undrop promote --schema ${cb.schema} --mode replace`);
  }
  if (req.confirmPromote && !(await req.confirmPromote(plan))) {
    log.event('promote-declined', { mode: req.mode });
    out.promoteDeclined = true;
    return out;
  }
  if (req.mode === 'replace') {
    out.replace = await log.step('promote (replace)', () => promoteReplace({ production: req.production, tables: cb.tables, lockTimeoutMs: req.lockTimeoutMs, statementTimeoutMs: req.statementTimeoutMs, recreateForeignKeys: req.recreateForeignKeys, allowDependents: req.allowDependents, timeline: log }));
    log.record('replace', out.replace);
    // the promoted tables are the recovered ones under their original names: check them again
    out.verify = await log.step('verify after replace', () => verifyCopy({ source, production: req.production, pairs: verifyPairs(cb, 'original'), timeline: log, known: { algorithms: cb.checksums.algorithms, source: cb.checksums.source } }));
    log.record('verify', out.verify);
  } else {
    out.merge = await runMerge(log, { production: req.production, tables: cb.tables, lockTimeoutMs: req.lockTimeoutMs, statementTimeoutMs: req.statementTimeoutMs, onConflict: onConflict ?? 'fail' });
  }
  return out;
}
