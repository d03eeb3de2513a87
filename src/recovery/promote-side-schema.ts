// `undrop promote`: promote a side schema that `undrop recover` already
// copied back and verified, without restoring again. The checksums recorded
// on the side schema at verify time are computed again first; a side schema
// that changed since is refused. Then the same merge or replace as recover,
// with the same confirmation, lock_timeout and collision rules, recorded in
// its own incident folder.
import { failure, isUndropError, usageError } from '../errors.js';
import { interruptedSignal } from '../postgres/cleanup.js';
import { interruptedError, watchInterrupt } from './interrupt.js';
import { withClient } from '../postgres/connect.js';
import { type ConnParams, describe } from '../postgres/conninfo.js';
import { displayName, type TableName } from '../postgres/identifiers.js';
import { algorithmOf, tableChecksum } from './checksum.js';
import { IncidentLog } from './incident-log.js';
import type { OnConflict } from './merge-conflicts.js';
import { isMergeRefusal, mergePreview } from './promote-merge.js';
import { promoteReplace } from './promote-replace.js';
import { type PromotePlan, promotePlanLines, promoteQuestion, runMerge } from './copy-verify-promote.js';
import { dependentsRefusal, replacePreview } from './live-dependents.js';
import type { PromoteDocument, PromoteSummary } from '../contract.js';
import { promoteSummary, type RecoverUi } from './recover-checklist.js';
import { readRecord, type SideSchemaRecord } from './side-record.js';

export interface PromoteSideSchemaOptions {
  production: ConnParams;
  schema: string;
  mode: 'merge' | 'replace';
  /** Default: every table of the side schema. */
  tables?: TableName[];
  onConflict?: OnConflict;
  lockTimeoutMs?: number;
  statementTimeoutMs?: number;
  recreateForeignKeys?: boolean;
  allowDependents?: boolean;
  workDir: string;
}

export type PromoteUi = Pick<RecoverUi, 'confirm' | 'info' | 'pickOnConflict' | 'bindLog'>;

export type { PromoteDocument } from '../contract.js';

type Recorded = SideSchemaRecord['tables'][number];

/** The recorded tables the user asked for (all by default); unknown names are bad input. Pure. */
export function selectRecorded(rec: SideSchemaRecord, wanted: TableName[] | undefined, schema: string): Recorded[] {
  if (!wanted?.length) return rec.tables;
  const out: Recorded[] = [];
  const unknown: string[] = [];
  for (const w of wanted) {
    const hit = rec.tables.find((t) => t.original.name === w.name && (w.schema === undefined || w.schema === t.original.schema));
    if (hit) {
      if (!out.includes(hit)) out.push(hit);
    } else unknown.push(displayName({ schema: w.schema ?? 'public', name: w.name }));
  }
  if (unknown.length) {
    throw usageError('TABLE_NOT_IN_SIDE_SCHEMA', `${unknown.join(', ')} ${unknown.length === 1 ? 'was' : 'were'} not recovered into ${schema}.`, `It holds: ${rec.tables.map((t) => t.name).join(', ')}.`);
  }
  return out;
}

export async function promoteSideSchema(o: PromoteSideSchemaOptions, ui: PromoteUi): Promise<PromoteDocument> {
  const started = Date.now();
  const log = IncidentLog.open({ workDir: o.workDir });
  ui.bindLog?.((type, data) => log.event(type, data));
  ui.info(`Incident folder: ${log.dir}`);
  const nextSteps: string[] = [];
  let rec: SideSchemaRecord | undefined;
  let chosen: Recorded[] = [];
  const unhook = watchInterrupt(log, (l) => ui.info(l), () => nextSteps);
  try {
    log.record('mode', o.mode);
    log.record('production', describe(o.production));
    // 1. The side schema is what was verified: same rows, same checksums.
    const checks = await log.step('check the side schema against its verification', () =>
      withClient(
        o.production,
        async (c) => {
          rec = await readRecord(c, o.schema);
          chosen = selectRecorded(rec, o.tables, o.schema);
          const out: { name: string; rows: number; checksum: string; match: boolean }[] = [];
          for (const t of chosen) {
            const now = await tableChecksum(c, t.recoveredAs, { algorithm: algorithmOf(t.checksum) }).catch(() => ({ rows: -1, checksum: 'missing' }));
            out.push({ name: t.name, rows: now.rows, checksum: now.checksum, match: now.rows === t.rows && now.checksum === t.checksum });
          }
          return out;
        },
        { applicationName: 'undrop promote (check)' },
      ),
    );
    log.record('tables', chosen.map((t) => t.name));
    log.record('promotedFrom', { schema: o.schema, verifiedAt: rec!.verifiedAt, source: rec!.source, tables: checks });
    const changed = checks.filter((x) => !x.match);
    if (changed.length) {
      throw failure('SIDE_SCHEMA_CHANGED', `The side schema ${o.schema} changed since undrop verified it (${rec!.verifiedAt}): ${changed.map((x) => x.name).join(', ')}. Nothing was promoted.`, {
        hint: 'Find out who changed the recovered rows; recover again for a verified copy (undrop recover … --mode ' + o.mode + ').',
        details: changed.map((x) => {
          const r = chosen.find((t) => t.name === x.name)!;
          return `${x.name}: now ${x.rows < 0 ? 'missing' : `${x.rows} rows, ${x.checksum}`}; verified ${r.rows} rows, ${r.checksum}`;
        }),
      });
    }
    ui.info(`Side schema ${o.schema}: ${chosen.length} table(s) equal to what was verified at ${rec!.verifiedAt} (from ${rec!.source}).`);

    // 2. Plan, consent, promote.
    const tables = chosen.map((t) => ({ original: t.original, recoveredAs: t.recoveredAs }));
    const plan: PromotePlan = { mode: o.mode, tables: chosen.map((t) => ({ name: t.name, from: displayName(t.recoveredAs), rows: t.rows })) };
    let onConflict = o.onConflict;
    if (o.mode === 'merge') {
      plan.merge = await log.step('merge preview', () => mergePreview(o.production, tables));
      log.event('merge-preview', { tables: plan.merge });
      if (onConflict === undefined && ui.pickOnConflict && plan.merge.some((p) => p.conflicts > 0)) onConflict = await ui.pickOnConflict(plan);
    }
    plan.onConflict = onConflict ?? 'fail';
    if (o.mode === 'replace') {
      plan.dependents = await log.step('replace preview', () => replacePreview(o.production, tables));
      if (plan.dependents.length && !o.allowDependents) throw dependentsRefusal(plan.dependents, `undrop promote --schema ${o.schema} --mode replace`);
    }
    if (!(await ui.confirm(`${o.schema}: ${promoteQuestion(plan)}`, promotePlanLines(plan)))) {
      throw usageError('DECLINED', 'Promote was not confirmed; production was not touched.', 'Run again and confirm, or pass --yes.');
    }
    let promoted: PromoteSummary | null;
    if (o.mode === 'merge') {
      const m = await runMerge(log, { production: o.production, tables, lockTimeoutMs: o.lockTimeoutMs, statementTimeoutMs: o.statementTimeoutMs, onConflict: onConflict ?? 'fail' });
      promoted = promoteSummary({ merge: m });
      for (const t of m.tables) {
        if (t.resolution === 'kept-live') nextSteps.push(`${t.name}: ${t.conflicts + t.otherUnique} recovered row(s) were left out because live rows hold their keys (--on-conflict keep-live); they are in ${t.conflictsTable}.`);
      }
    } else {
      const r = await log.step('promote (replace)', () => promoteReplace({ production: o.production, tables, lockTimeoutMs: o.lockTimeoutMs, statementTimeoutMs: o.statementTimeoutMs, recreateForeignKeys: o.recreateForeignKeys, allowDependents: o.allowDependents, timeline: log }));
      log.record('replace', r);
      promoted = promoteSummary({ replace: r });
      // The promoted tables are the verified ones, under their original names.
      const after = await log.step('verify after replace', () =>
        withClient(o.production, async (c) => {
          const out: string[] = [];
          for (const t of chosen) {
            const now = await tableChecksum(c, t.original, { algorithm: algorithmOf(t.checksum) });
            if (now.rows !== t.rows || now.checksum !== t.checksum) out.push(`${t.name}: ${now.rows} rows, ${now.checksum}; verified ${t.rows} rows, ${t.checksum}`);
          }
          return out;
        }),
      );
      if (after.length) throw failure('VERIFY_MISMATCH', 'After replace, the promoted tables differ from what was verified.', { hint: 'Check for writes during the promote; the old live tables are kept (renamed aside).', details: after });
    }
    log.record('nextSteps', nextSteps);
    const report = log.finish({ ok: true });
    return document(o, rec!, chosen, promoted, nextSteps, started, report);
  } catch (caught) {
    const e = isUndropError(caught) && caught.code === 'INTERRUPTED' && !interruptedSignal() ? interruptedError('Ctrl-C at a question', log.facts, []) : caught;
    if (isMergeRefusal(e)) nextSteps.push(`Nothing live was changed. Decide, then: undrop promote --schema ${o.schema} --mode merge --on-conflict rekey-live|keep-live.`);
    log.record('nextSteps', nextSteps);
    const report = log.finish({ ok: false, error: e });
    if (e instanceof Error && 'details' in e && Array.isArray((e as { details: unknown }).details)) (e as { details: string[] }).details.push(`Incident report: ${report}`, ...nextSteps);
    if (isMergeRefusal(e) && rec) e.document = { ...document(o, rec, chosen, promoteSummary({ merge: e.merge }), nextSteps, started, report) };
    throw e;
  } finally {
    unhook();
  }
}

function document(o: PromoteSideSchemaOptions, rec: SideSchemaRecord, chosen: Recorded[], promoted: PromoteSummary | null, nextSteps: string[], started: number, report: string): PromoteDocument {
  return {
    schema: o.schema,
    mode: o.mode,
    source: rec.source,
    recoveryPoint: rec.recoveryPoint,
    verifiedAt: rec.verifiedAt,
    tables: chosen.map((t) => ({ name: t.name, recoveredAs: o.mode === 'replace' ? t.name : displayName(t.recoveredAs), rows: t.rows, checksum: t.checksum })),
    promoted,
    nextSteps,
    durationMs: Date.now() - started,
    report,
  };
}
