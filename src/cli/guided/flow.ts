// The guided recovery (`undrop` on a terminal), in the order an incident
// needs: the inventory (written with the person if missing), the delayed
// replicas paused BEFORE any question, what was lost, the sources (live as
// each probe returns), consent, extraction with progress, what came back,
// and only then whether to touch the live tables. It runs recover's and
// promote's own code; at the end it prints the one command that does the
// same without questions.
import { select } from '@inquirer/prompts';
import type { Inventory } from '../../inventory/schema.js';
import { resolveConnParams } from '../../postgres/conninfo.js';
import { defaultWorkDir } from '../../postgres/instance.js';
import { cameBack } from '../../recovery/came-back.js';
import type { LocatedEvent } from '../../recovery/locate/index.js';
import type { OnConflict } from '../../recovery/merge-conflicts.js';
import { mergePreview } from '../../recovery/promote-merge.js';
import { promoteSideSchema } from '../../recovery/promote-side-schema.js';
import { recoverIncident } from '../../recovery/recover-checklist.js';
import { delayedReplicas, pauseReplicas } from '../../sources/delayed-replica/pause-all.js';
import { parseTableName } from '../../postgres/identifiers.js';
import { EXIT, failure, isUndropError, UndropError } from '../../errors.js';
import { recordAnswer, recordEvent } from '../answers.js';
import type { Context } from '../context.js';
import { lockRun } from '../lock-run.js';
import { note, say } from '../output.js';
import { pauseLine } from '../render/pause.js';
import { probeLine, replicaBanner } from '../render/probe.js';
import { printPromote } from '../render/promote.js';
import { asking, stepUi } from '../steps.js';
import { inventoryOrWizard } from './inventory-wizard.js';
import { type PromoteChoice, promotePrompt, promoteTableLines } from './prompts.js';

/** The one-line command that repeats this run without questions. Pure. */
export function equivalentCommand(o: { config: string; tables: string[]; event?: LocatedEvent; source: string; mode: PromoteChoice; onConflict?: OnConflict }): string {
  const q = (s: string) => (/^[\w./,:=@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const target = o.event ? (o.event.kind === 'drop-database' ? `lsn:${o.event.firstLsn}` : `xid:${o.event.xid}`) : undefined;
  return ['undrop', '-c', q(o.config), 'recover', '--tables', q(o.tables.join(',')), ...(target ? ['--target', target] : []), '--source', q(o.source), '--mode', o.mode, ...(o.mode === 'merge' && o.onConflict ? ['--on-conflict', o.onConflict] : []), '--yes'].join(' ');
}

async function pauseFirst(inv: Inventory): Promise<void> {
  const replicas = delayedReplicas(inv);
  if (!replicas.length) {
    note('No delayed replica in the inventory: nothing to pause first.');
    return;
  }
  note(`First, before any question: pausing replay on ${replicas.map((r) => r.name).join(', ')} (every minute it keeps replaying moves it toward the incident).`);
  const outcomes = await pauseReplicas(replicas, { onOutcome: (r) => note(`  ${pauseLine(r)}`) });
  recordEvent('guided-pause', { replicas: outcomes });
  if (outcomes.some((r) => !r.safe)) note('  A replica could not be paused (above): undrop goes on with the other sources; pause it by hand if you can (select pg_wal_replay_pause();).');
}

export async function runGuided(c: Context): Promise<void> {
  const inv = await inventoryOrWizard(c);
  await pauseFirst(inv);
  const workDir = c.workDir ?? inv.workDir ?? defaultWorkDir();
  const release = lockRun(workDir);
  try {
    const base = stepUi(c);
    let event: LocatedEvent | undefined;
    let onConflict: OnConflict | undefined;
    const ui: typeof base = {
      ...base,
      pickEvent: async (events, undrop) => (event = await base.pickEvent!(events, undrop)),
      probeDone: (r) => {
        base.info(`  ${probeLine(r)}`);
        const banner = replicaBanner(r);
        if (banner) base.info(banner);
      },
      pickOnConflict: async (plan) => (onConflict = await base.pickOnConflict!(plan)),
    };
    const doc = await recoverIncident({ inventory: inv, tables: [], source: 'auto', target: { kind: 'before-incident' }, mode: 'side-schema', keep: false, workDir, lockTimeoutMs: 5000 }, ui);

    // What came back, before any question about the live tables.
    const schema = doc.schema;
    if (!schema) throw failure('NO_SIDE_SCHEMA', 'The recovery ended without a side schema.', { hint: `See the report: ${doc.report}` });
    const prod = resolveConnParams(inv.production.dsn);
    const back = await cameBack(prod, doc.tables);
    say('');
    say(`What came back — from ${doc.source}, recovery point ${doc.recoveryPoint?.time ?? 'unknown'}${doc.recoveryPoint?.lsn ? ` (LSN ${doc.recoveryPoint.lsn})` : ''}, into ${schema} (verified: row counts and checksums equal):`);
    for (const t of doc.tables) {
      const b = back.find((x) => x.name === t.name);
      say(`  ${t.name} → ${t.recoveredAs}: ${t.rows.toLocaleString('en-US')} rows; identity ${t.identity}${t.identityReason ? ` (${t.identityReason})` : ''}`);
      for (const r of b?.sample ?? []) say(`      ${r}`);
    }
    say(`Report: ${doc.report}`);

    // The last question: the live tables.
    const tables = doc.tables.map((t) => ({ original: withSchema(t.name), recoveredAs: withSchema(t.recoveredAs) }));
    const preview = await mergePreview({ ...prod }, tables).catch(() => []);
    say('');
    say('What each choice would do to the live tables (counted now, read-only):');
    for (const l of promoteTableLines(preview, doc.tables.map((t) => ({ name: t.name, liveRows: back.find((b) => b.name === t.name)?.liveRows ?? null, recoveredRows: t.rows })))) say(l);
    const mode = await asking(() => select(promotePrompt(schema, preview), { output: process.stderr })).catch((e: unknown) => {
      // Ctrl-C at the last question: the side schema is already in production; say so, and how to go on.
      if (isUndropError(e) && e.code === 'INTERRUPTED') {
        throw new UndropError('INTERRUPTED', `Stopped at the last question (Ctrl-C). Production: the recovered tables are in side schema ${schema} (committed, verified); nothing live was changed.`, {
          exitCode: EXIT.interrupted,
          hint: `When ready: undrop promote --schema ${schema} --mode merge|replace (no new restore). The delayed replicas stay paused until: undrop resume.`,
        });
      }
      throw e;
    });
    recordAnswer('promote the side schema (--mode)', mode, 'interactive');
    if (mode !== 'side-schema') {
      const p = await promoteSideSchema({ production: prod, schema: schema, mode, workDir, lockTimeoutMs: 5000 }, ui);
      printPromote(p);
      onConflict = p.promoted && 'onConflict' in p.promoted ? (p.promoted.onConflict as OnConflict | undefined) : onConflict;
    } else {
      say(`Nothing live was changed. When ready: undrop promote --schema ${schema} --mode merge|replace`);
    }
    for (const n of doc.nextSteps) say(`Next: ${n}`);
    if (delayedReplicas(inv).length) say('Next: when the data is safe, resume the delayed replicas: undrop resume (it asks first).');
    say('');
    say('The same recovery without questions:');
    say(`  ${equivalentCommand({ config: inv.file, tables: doc.tables.map((t) => t.name), event, source: doc.source ?? 'auto', mode, onConflict })}`);
  } finally {
    release();
  }
}

function withSchema(display: string): { schema: string; name: string } {
  const t = parseTableName(display);
  return { schema: t.schema ?? 'public', name: t.name };
}
