// `undrop recover`, as a checklist: freeze the sources that move (delayed replicas) → find the target
// → probe every source → choose → confirm → materialize → copy back, verify,
// (confirmed) promote → report. The CLI and the guided flow both call this;
// the UI callbacks are the only way it talks to a person.
import type { PromoteSummary, RecoverDocument } from '../contract.js';
import { failure, isUndropError, usageError } from '../errors.js';
import type { Inventory, SourceConfig } from '../inventory/schema.js';
import { findBinaries, installHint } from '../postgres/binaries.js';
import { interruptedSignal, stoppable } from '../postgres/cleanup.js';
import { sleep } from '../util/time.js';
import { withClient } from '../postgres/connect.js';
import { detachedSessionWarning } from '../util/session.js';
import { type ConnParams, describe as describeConn, resolveConnParams } from '../postgres/conninfo.js';
import { type TableName, displayName, parseTableName, qualified } from '../postgres/identifiers.js';
import { probeAll, type ProbeReport } from '../sources/probe-all.js';
import { freezeStepOf, materializeSource, walArchiveAmong } from '../sources/registry.js';
import type { Materialized, ProbeResult, SelectiveLevel } from '../sources/types.js';
import { removeStage } from '../postgres/work-dir.js';
import { IncidentLog, type RecoverMode } from './incident-log.js';
import { interruptedError, watchInterrupt } from './interrupt.js';
import { diskFullError, isDiskFull } from '../sources/materialize/preflight.js';
import { loadSqlScanner } from './ddl-in-place.js';
import { pinnedItem, pinnedProbeItem } from '../sources/materialize/choose.js';
import { isMergeRefusal, type MergeResult } from './promote-merge.js';
import type { OnConflict } from './merge-conflicts.js';
import type { ReplaceResult } from './promote-replace.js';
import { eventTarget, locate, locateIncident, type LocatedEvent } from './locate/index.js';
import { type PromotePlan, copyBackVerifyPromote, promotePlanLines, promoteQuestion } from './copy-verify-promote.js';
import { recoverJson } from './report.js';
import { sideSchemaName } from './side-schema.js';
import { type ResolvedTarget, type TargetSpec, describeTarget, resolveExplicit } from '../sources/target.js';
import { namesTable } from './locate/rank.js';
import type { TablespaceScan } from '../postgres/replay-guard.js';
import { assertIdentity, judgeIdentity, materializedRelfilenodes } from './identity.js';
import { type TargetScan, scanForTarget } from './target-scan.js';
import type { RecoveredCopy } from './locate/catalog.js';
import type { ToastCompressionChoice } from './toast-compression.js';

/** Sources whose temporary instance is replayed to the target itself (its catalog names what the target's transaction removed). */
const REPLAYED_TO_TARGET: ReadonlySet<string> = new Set(['pitr', 'pgbackrest', 'barman']);

export interface RecoverOptions {
  inventory: Inventory;
  tables: TableName[];
  /** Database the tables live in; default: production's. */
  database?: string;
  source: string;
  target: TargetSpec;
  /** --set LABEL: the base backup / backup set / dump file / snapshot to use. */
  set?: string;
  mode: RecoverMode;
  schema?: string;
  keep: boolean;
  /** pgBackRest restore processes (--process-max). */
  processMax?: number;
  /** --jobs: production connections copy back opens at once (default: the tables, up to 4). */
  jobs?: number;
  /** --toast-compression: how copy back compresses the recovered rows' large values. */
  toastCompression?: ToastCompressionChoice;
  /** --selective: how much of a base backup to leave out (default relations). */
  selective?: SelectiveLevel;
  workDir: string;
  lockTimeoutMs?: number;
  /** Promote: statement_timeout while the live tables are locked. */
  statementTimeoutMs?: number;
  recreateForeignKeys?: boolean;
  /** Merge: what to do with collisions; undefined = ask (guided flow) or fail. */
  onConflict?: OnConflict;
  /** Replace even when views, policies, publications… point at a live table. */
  allowDependents?: boolean;
}

export interface RecoverUi {
  /** Run one visible step (spinner, task list). */
  step<T>(title: string, fn: (progress: (msg: string) => void) => Promise<T>): Promise<T>;
  /** Ask before a production write; false declines. */
  confirm(message: string, details: string[]): Promise<boolean>;
  info(message: string): void;
  /** Guided flow, when no tables were named: which destructive event to undo (the flag is --tables). */
  pickEvent?(events: LocatedEvent[], undrop?: LocatedEvent[]): Promise<LocatedEvent>;
  /** Called once the incident folder exists: the UI records every answer and confirmation (who, when) in its timeline. */
  bindLog?(record: (type: string, data: Record<string, unknown>) => void): void;
  /** Each source's probe as it finishes (the guided flow shows them live; a delayed replica's banner at once). */
  probeDone?(result: ProbeResult): void;
  /**
   * Only on a terminal: the located incident has files no catalog could name;
   * ask explicitly (--yes does not answer this). Absent: recover refuses and asks for --target.
   */
  confirmUnnamed?(message: string, details: string[]): Promise<boolean>;
  /** Guided flow, with --source auto on a terminal: which source to use (default: the best-ranked). */
  pickSource?(report: ProbeReport, best: string): Promise<string>;
  /** Guided flow, merge with collisions and no --on-conflict: which resolution. */
  pickOnConflict?(plan: PromotePlan): Promise<OnConflict>;
}

export type { RecoverDocument } from '../contract.js';

export function promoteSummary(r: { merge?: MergeResult; replace?: ReplaceResult }): PromoteSummary | null {
  if (r.merge) {
    return {
      mode: 'merge',
      onConflict: r.merge.onConflict,
      committed: r.merge.committed,
      tables: r.merge.tables.map((t) => ({ name: t.name, inserted: t.inserted, skipped: t.skipped, conflicts: t.conflicts, otherUnique: t.otherUnique, conflictsTable: t.conflictsTable, resolution: t.resolution, rekeyed: t.rekey?.rows ?? 0, sample: t.sample })),
    };
  }
  if (r.replace) return { mode: 'replace', tables: r.replace.tables.map((t) => ({ name: t.name, liveRenamedTo: t.liveRenamedToName })) };
  return null;
}

export async function recoverIncident(o: RecoverOptions, ui: RecoverUi): Promise<RecoverDocument> {
  const started = Date.now();
  const production = productionParams(o.inventory);
  const database = o.database ?? production.database;
  if (!database) throw usageError('DATABASE_UNKNOWN', 'Which database are the tables in? Production\'s DSN names none.', 'Add dbname to production.dsn in undrop.yaml or pass --database.');
  const prod: ConnParams = { ...production, database };
  const chosenConfig = o.source === 'auto' ? undefined : o.inventory.sources.find((s) => s.name === o.source);
  if (o.source !== 'auto' && !chosenConfig) {
    throw usageError('SOURCE_UNKNOWN', `There is no source named "${o.source}" in ${o.inventory.file}.`, `Known sources: ${o.inventory.sources.map((s) => s.name).join(', ') || '(none)'}; or use --source auto.`);
  }

  const log = IncidentLog.open({ workDir: o.workDir });
  ui.bindLog?.((type, data) => log.event(type, data));
  ui.info(`Incident folder: ${log.dir}`);
  const nextSteps: string[] = [];
  let materialized: Materialized | undefined;
  let recorded = false;
  // A signal writes the report and prints the replica's state before the cleanups run.
  let paused = 0;
  const pausedNames = new Set<string>();
  const replicaState = () => (paused ? nextSteps : [...nextSteps, 'No delayed replica was paused by this run.']);
  const unhook = watchInterrupt(log, (l) => ui.info(l), replicaState);
  // A hand-given target's WAL scan, running alongside probe and materialize (see step 2).
  let located: Promise<LocatedEvent | undefined> | undefined;
  let locatedSettled = false;
  let walScanned: Promise<TablespaceScan | undefined> | undefined;
  let targetEnd: Promise<string | undefined> | undefined;
  let recreatedWarned: Promise<void> | undefined;
  // Stops that scan (its programs, catalog instance and folders) when the run fails before it finished.
  let stopScan: (() => Promise<void>) | undefined;
  // WAL that scan fetched from the chosen source, kept for materialize's replay guard and replay: removed once
  // both are over (the scan, naming the files after materialize, may still read that folder).
  let keptWal: string | undefined;
  let materializeOver = false;
  const dropKeptWal = () => {
    if (!materializeOver || (located && !locatedSettled) || !keptWal) return;
    removeStage(keptWal);
    keptWal = undefined;
  };
  // Hands that scan the materialized copy to name the lost files with (undefined: there is none).
  let giveCopy: ((copy: RecoveredCopy | undefined) => void) | undefined;
  try {
    log.record('mode', o.mode);

    // 1. Seconds matter: a delayed replica moves toward the DROP every minute.
    for (const s of o.inventory.sources.filter((s) => !chosenConfig || s === chosenConfig)) {
      const freeze = await freezeStepOf(s);
      if (!freeze) continue;
      const frozen = await log.step(freeze.name, () => ui.step(freeze.title, () => freeze.run({ database })));
      if (frozen?.warning) {
        ui.info(`Warning: ${frozen.warning}`);
        log.event('freeze-failed', { source: s.name, warning: frozen.warning });
        nextSteps.push(frozen.warning);
      }
      if (frozen && frozen.paused !== false) {
        paused++;
        pausedNames.add(s.name);
        nextSteps.push(...frozen.nextSteps);
      }
    }

    // Production must be reachable (and the side schema name free) before anything long runs:
    // a wrong DSN found only at copy back wastes the whole materialize.
    await log.step('check production', () => checkProduction(prod, o.schema));

    // 2. The exact target (and, in the guided flow, the tables: those of the chosen event).
    let tables = o.tables;
    let target: ResolvedTarget;
    let event: LocatedEvent | undefined;
    if (tables.length === 0) {
      const picked = await log.step('find the incident', () => ui.step('Finding destructive transactions in WAL', (p) => pickIncident(o, prod, ui, p)));
      tables = picked.tables;
      target = picked.target;
      event = picked.event;
      walScanned = Promise.resolve(picked.tablespaces);
    } else if (o.target.kind !== 'before-incident') {
      // A target given by hand is still checked against what the WAL says was lost (best effort). Only the
      // identity check (after materialize) and the replay guard (before replay) need that scan: it runs alongside.
      target = resolveExplicit(o.target);
      // A source replayed to an xid target names the lost files itself once up: the scan makes no copy of its own.
      const catalogAt = chosenConfig && REPLAYED_TO_TARGET.has(chosenConfig.kind) && target.kind === 'xid' ? new Promise<RecoveredCopy | undefined>((r) => (giveCopy = r)) : undefined;
      // The replay guard's answers come once the WAL is read, before the naming (which waits for that copy).
      let scanned: (s: Omit<TargetScan, 'event'>) => void = () => {};
      const early = new Promise<Omit<TargetScan, 'event'>>((r) => (scanned = r));
      const running = stoppable(() => log.step('check the target in WAL (alongside)', () => scanForTarget({ inventory: o.inventory, tables: o.tables, production: prod, workDir: o.workDir, target, source: chosenConfig, timeline: log, catalogAt, onScanned: scanned })));
      stopScan = running.stop;
      const scan = running.done;
      scan.then(scanned, () => scanned({}));
      located = scan.then((r) => r.event);
      const settled = () => {
        locatedSettled = true;
        dropKeptWal();
      };
      located.then(settled, settled);
      walScanned = early.then((r) => r.tablespaces);
      targetEnd = early.then((r) => r.end);
      early.then((r) => {
        keptWal = r.keptWal;
        dropKeptWal();
      }, () => {});
      // read by the replay guard only when it needs them (a stopped scan: neither)
      walScanned.catch(() => {});
      targetEnd.catch(() => {});
      located.catch(() => {}); // awaited at the identity check; never fails (best effort)
    } else {
      let tablespaces: TablespaceScan | undefined;
      ({ target, event, tablespaces } = await log.step('find the target', () => ui.step('Finding the destructive transaction in WAL', (p) => resolveTarget(o, prod, p))));
      walScanned = Promise.resolve(tablespaces);
    }
    log.record('tables', tables.map((t) => displayName(t)));
    log.record('target', target);
    if (event && o.target.kind === 'before-incident') log.record('incident', { xid: event.xid, lsn: event.commitLsn, commitTime: event.commitTime, kind: event.kind, relations: event.relations.map((r) => ({ name: r.name })) });
    ui.info(`Target: ${describeTarget(target)}.`);
    if (event?.unnamedReason && o.target.kind === 'before-incident' && !event.relations.some((r) => namesTable(r, tables))) await confirmUnnamedEvent(event, tables, ui, log);
    // Warn early: a DROP + recreate restarted the live keys, so a merge will meet collisions.
    const warnRecreated = async (e: LocatedEvent | undefined) => {
      if (!e?.recreated.length) return;
      // Only a warning: a failure here is recorded, never stops the recovery.
      const restarted = await liveRowsSince(prod, tables).catch((err: unknown) => {
        log.event('recreated-check-failed', { error: err instanceof Error ? err.message : String(err) });
        return [];
      });
      if (restarted.length) log.record('recreated', restarted);
      for (const r of restarted) ui.info(`Warning: ${recreatedWarning(r)}`);
    };
    await warnRecreated(event);

    // 3. Probe and rank.
    const report = await log.step('probe', () => ui.step('Probing every source', () => probeAll(o.inventory, { tables, target, workDir: o.workDir, only: chosenConfig ? [chosenConfig.name] : undefined, verify: 'chosen', pinned: o.set, onDone: (_s, r) => ui.probeDone?.(r) })));
    log.record('probes', report.sources);
    log.record('ranking', report.ranking);
    // A replica that replayed the incident is the worst news a probe can bring: said before anything else.
    for (const p of report.sources) {
      const past = p.findings.find((f) => f.code === 'REPLICA_PAST_INCIDENT');
      if (!past) continue;
      ui.info(`Warning: ${p.name} is unusable: ${past.message} ${past.hint ?? ''}`.trim());
      log.event('replica-past-incident', { source: p.name, message: past.message });
      if (pausedNames.has(p.name)) nextSteps.push(`${p.name} had already replayed the incident before it was paused: keeping it paused saves nothing, resume it (the command is above).`);
    }
    let named = chosenConfig?.name;
    if (!named && ui.pickSource) named = await ui.pickSource(report, chooseSource(o.inventory, report, undefined).config.name);
    const choice = chooseSource(o.inventory, report, named);
    log.record('chosen', choice.reason);
    ui.info(`Source: ${choice.config.name} (${choice.config.kind}) — ${choice.reason.reason}`);
    // A wrong --set is said now, from the probe, not after the long steps (materialize checks again).
    if (o.set && choice.probe.items) await log.step('check the pinned set (--set)', async () => checkPinned(choice.probe, o.set!));

    // 4. Consent before production is written.
    const schemaNote = o.schema ? `schema ${o.schema}` : 'a new schema undrop_<timestamp>';
    if (!(await ui.confirm(`Copy ${tables.map((t) => displayName(t)).join(', ')} from ${choice.config.name} into ${schemaNote} in production (${database})?`, [`Target: ${describeTarget(target)}`, `Recovery point: ${choice.probe.recoveryPoint?.time ?? 'unknown'}`, 'Nothing live is changed by this step.']))) {
      throw usageError('DECLINED', 'Recovery was not confirmed; production was not touched.', 'Run again and confirm, or pass --yes.');
    }

    // 5. Materialize (the long step).
    // A delayed replica is read in place: copy back will move names in its DDL with PostgreSQL's scanner, whose
    // WebAssembly takes ~0.2 s of CPU to load; loaded now, while materialize mostly waits on the replica.
    if (choice.config.kind === 'delayed-replica' && !o.keep) loadSqlScanner().catch(() => {});
    const detached = detachedSessionWarning(process.env);
    if (detached) ui.info(detached);
    const m = await log.step('materialize', () =>
      ui.step(`Extracting the tables from ${choice.config.name}${choice.config.kind === 'delayed-replica' && !o.keep ? '' : ' into a temporary instance'}`, (p) =>
        materializeSource(choice.config, { tables, database, target, keep: o.keep, workDir: o.workDir, walArchive: walArchiveAmong(o.inventory.sources), set: o.set, processMax: o.processMax, selective: o.selective, walScanned, targetEnd, rowsInPlace: true, rowsCountedByCaller: o.jobs === undefined, onProgress: p }, choice.probe),
      ),
    );
    materialized = m;
    materializeOver = true;
    dropKeptWal();
    // The scan may name the lost files after copy back moved the tables into its staging schema: it is told.
    const copy: RecoveredCopy = { label: `${choice.config.name}'s temporary instance`, params: (db) => ({ ...m.conn, database: db }) };
    giveCopy?.(copy);
    const sourceConfig = m.instance?.sourceConfig;
    // The rows are counted by copy back's source checksums (rowsCountedByCaller): the tables are recorded again,
    // with their rows, once those are in (in the identity check, which the publish waits for).
    const recordMaterialized = (counted: boolean) => log.record('materialized', { source: choice.config.name, recoveryPoint: m.recoveryPoint, tables: counted ? m.tables : [], notes: m.notes, sourceConfig });
    recordMaterialized(!m.rowsPending);
    let sourceRows: { give: (rows: Promise<{ name: string; rows: number }[]>) => void; fail: (e: unknown) => void } | undefined;
    const counting = m.rowsPending
      ? new Promise<void>((resolve, reject) => {
          sourceRows = {
            give: (rows) =>
              rows.then(
                (counted) => {
                  for (const t of m.tables) t.rows = counted.find((x) => x.name === t.name)?.rows ?? t.rows;
                  resolve();
                },
                (e: unknown) =>
                  reject(
                    isUndropError(e)
                      ? e
                      : failure('VERIFY_FAILED', `Could not checksum the tables in the materialized source: ${e instanceof Error ? e.message : String(e)}.`, {
                          hint: 'Nothing was published in production; run recover again.',
                          cause: e,
                        }),
                  ),
              ),
            fail: reject,
          };
        })
      : undefined;
    counting?.catch(() => {}); // awaited by the identity check
    for (const n of m.notes) ui.info(n);

    // 5b. The identity check: the source holds the lost table, not its successor. Before anything is published.
    // Started now (so the report lists it before copy back); it waits for a hand-given target's WAL scan.
    // The tables' relfilenodes are read first: copy back, which may start before the verdict, moves the tables
    // into its staging schema in the instance, where their names no longer find them.
    const relfilenodes = await materializedRelfilenodes(m, tables);
    const identityChecked = log
      .step('identity check', async () => {
        // rows counted by copy back's source checksums: the verdict (and so the publish) waits for them
        if (counting) {
          await counting;
          recordMaterialized(true);
        }
        if (located) {
          event = await located;
          // which transaction the check compares with, and which catalog named its files (null: none could)
          if (event) log.event('wal-scan-event', { xid: event.xid, commitLsn: event.commitLsn, catalog: event.catalog, relations: event.relations.map((r) => r.name) });
          // only a warning (it counts the live tables' rows): the verdict does not wait for it, unless --jobs caps
          // production's connections (it reads production on one of its own)
          recreatedWarned = warnRecreated(event);
          if (o.jobs !== undefined) await recreatedWarned;
        }
        return judgeIdentity({ tables, event, targetOrigin: target.origin, sourceKind: choice.config.kind, sourceName: choice.config.name, materialized: m, relfilenodes });
      })
      .then((identity) => {
        log.record('identity', identity);
        for (const i of identity) ui.info(`Identity of ${i.name}: ${i.status} — ${i.reason}`);
        assertIdentity(identity);
      });
    // Only the WAL scan's event is missing (a replica read in place materializes in under a second): copy back
    // starts now and its publish waits for the verdict. Writing the staging schema first is safe: it bears
    // undrop's own name (undrop_staging_…), nothing reads it, any failure (a failed verdict too) drops it, and
    // only the publishing rename — after the verdict — makes anything visible; merge and replace touch live
    // tables only after that. Production consent was given before materialize, as before.
    // Not with --jobs: its cap counts every production connection, and the scan reads production's catalog.
    // Always when the rows are counted by copy back (rowsCountedByCaller, asked for only without --jobs).
    const early = o.jobs === undefined && ((located !== undefined && !locatedSettled) || counting !== undefined);
    let beforePublish: (() => Promise<void>) | undefined;
    if (early) {
      identityChecked.catch(() => {}); // awaited before publish, or after a failed copy back
      log.event('copy-back-before-identity', { reason: `${located !== undefined && !locatedSettled ? 'the WAL scan that checks the hand-given target is still running' : 'the rows are counted by copy back\'s source checksums'}; the side schema is published only after the identity verdict` });
      beforePublish = () => log.step('wait for the identity check (before publish)', () => identityChecked);
    } else {
      await identityChecked;
    }

    // 6. Copy back, verify, promote.
    const bin = m.inPlace?.bin ?? m.instance?.bin ?? (await findBinaries());
    const result = await ui.step('Copying back into production (tables in parallel, published at once), then verifying checksums', (progress) =>
      copyBackVerifyPromote({
        onProgress: progress,
        bin,
        log,
        sourceName: choice.config.name,
        materialized: m,
        production: prod,
        tables,
        mode: o.mode,
        schema: o.schema,
        workDir: o.workDir,
        jobs: o.jobs,
        toastCompression: o.toastCompression,
        lockTimeoutMs: o.lockTimeoutMs,
        statementTimeoutMs: o.statementTimeoutMs,
        recreateForeignKeys: o.recreateForeignKeys,
        onConflict: o.onConflict,
        chooseOnConflict: ui.pickOnConflict ? (plan) => ui.pickOnConflict!(plan) : undefined,
        allowDependents: o.allowDependents,
        confirmPromote: (plan) => ui.confirm(promoteQuestion(plan), promotePlanLines(plan)),
        beforePublish,
        onSourceRows: sourceRows?.give,
        onSourceMoved: (staging, moved) => (copy.moved = { staging, tables: moved }),
      }).catch(async (e: unknown) => {
        // copy back failed before it counted the rows: the verdict waits for them no longer
        sourceRows?.fail(e);
        // copy back failed before the verdict: a failed identity check is the run's answer (the source was wrong)
        if (early) await identityChecked;
        throw e;
      }),
    );
    await recordOwnObjects(prod, result.copyBack.schema, log).catch(() => {});
    recorded = true;
    await recreatedWarned;
    if (!result.verify.ok) {
      throw failure('VERIFY_MISMATCH', 'The copy in production does not match the recovered source (row counts or checksums differ).', { hint: 'Do not promote; see the report for the tables that differ. The side schema is left for inspection.' });
    }
    if (result.promoteDeclined) nextSteps.push(`Promote was not confirmed: the recovered tables wait in ${result.copyBack.schema}. When ready: undrop promote --schema ${result.copyBack.schema} --mode ${o.mode}${o.mode === 'merge' ? ' --on-conflict …' : ''} (no new restore), or compare and merge by hand.`);
    for (const t of result.merge?.tables ?? []) {
      if (t.resolution === 'kept-live') nextSteps.push(`${t.name}: ${t.conflicts + t.otherUnique} recovered row(s) were left out because live rows hold their keys (--on-conflict keep-live); they are in ${t.conflictsTable}.`);
    }

    if (o.keep && m.instance) {
      const kept = m.instance.keep();
      log.record('materialized', { source: choice.config.name, recoveryPoint: m.recoveryPoint, tables: m.tables, notes: m.notes, sourceConfig, kept });
      nextSteps.push(`The temporary instance is kept: ${kept.connect} — remove it with: ${kept.remove}`);
    }
    log.record('nextSteps', nextSteps);
    const reportPath = log.finish({ ok: true });
    return { ...recoverJson(log.facts, reportPath, Date.now() - started), nextSteps, promoted: promoteSummary(result) };
  } catch (caught) {
    // Ctrl-C at a question: say where production stands (the side schema may already be written).
    let e = isInterruptedAtPrompt(caught) ? interruptedError('Ctrl-C at a question', log.facts, []) : caught;
    // Nothing waits for the alongside scan any more: stopped, not waited for (it may read WAL for minutes).
    giveCopy?.(undefined);
    if (located && !locatedSettled && stopScan) {
      log.event('wal-scan-stopped', { reason: 'the run failed before the scan finished' });
      await stopScan();
      // its step ends (failed, or done just then) before the incident closes, not after: briefly waited for
      await Promise.race([located.catch(() => {}), sleep(5000)]);
    }
    // The work directory filled up after the pre-check passed: say so, with the figures, not the program's errno.
    if (isDiskFull(e) && !(isUndropError(e) && ['DISK_SPACE', 'DISK_FULL', 'PRODUCTION_DISK_SPACE', 'PRODUCTION_DISK_FULL'].includes(e.code))) {
      const failed = log.steps.filter((s) => s.ok === false).map((s) => s.name);
      e = await diskFullError(e, o.workDir, failed.length ? `step ${failed.join(' › ')}` : 'the run');
    }
    if (isInterruptedAtPrompt(caught) && !paused) nextSteps.push('No delayed replica was paused by this run.');
    // A side schema left behind by a later failure is still undrop's own: remember it.
    if (log.facts.copyBack && !recorded) await recordOwnObjects(prod, log.facts.copyBack.schema, log).catch(() => {});
    if (isMergeRefusal(e) && log.facts.copyBack) {
      const schema = log.facts.copyBack.schema;
      nextSteps.push(`The recovered tables and the conflicting pairs wait in ${schema}. Decide, then: undrop promote --schema ${schema} --mode merge --on-conflict rekey-live|keep-live (no new restore).`);
    }
    log.record('nextSteps', nextSteps);
    const reportPath = log.finish({ ok: false, error: e });
    if (isMergeRefusal(e)) e.document = { ...recoverJson(log.facts, reportPath, Date.now() - started), nextSteps, promoted: promoteSummary({ merge: e.merge }) };
    if (e instanceof Error && 'details' in e && Array.isArray((e as { details: unknown }).details)) (e as { details: string[] }).details.push(log.unwritable ? `Incident report: not complete at ${reportPath} (${log.unwritable})` : `Incident report: ${reportPath}`, ...nextSteps);
    throw e;
  } finally {
    materializeOver = true;
    unhook();
    // the alongside scan may hold a catalog instance: it ends (stopped above on a failure) and cleans up before the run ends
    await located?.catch(() => {});
    locatedSettled = true;
    dropKeptWal();
    await recreatedWarned;
    if (materialized && !o.keep) await materialized.release().catch(() => {});
  }
}

function productionParams(inv: Inventory): ConnParams {
  return resolveConnParams(inv.production.dsn);
}

async function checkProduction(prod: ConnParams, schema: string | undefined): Promise<void> {
  const name = schema === undefined ? undefined : sideSchemaName(schema);
  await withClient(
    prod,
    async (c) => {
      if (name === undefined) return;
      const r = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [name]);
      if (r.rowCount) {
        throw usageError('SIDE_SCHEMA_EXISTS', `Schema ${name} already exists in production (${describeConn(prod)}); it is never overwritten.`, 'Choose another name with --schema, or drop the old side schema once you no longer need it.');
      }
    },
    { applicationName: 'undrop recover', statementTimeoutMs: 10_000 },
  );
}

async function resolveTarget(o: RecoverOptions, production: ConnParams, progress: (m: string) => void): Promise<{ target: ResolvedTarget; event?: LocatedEvent; tablespaces?: TablespaceScan }> {
  const found = await locateIncident(o.inventory, { tables: o.tables, database: production.database, production, workDir: o.workDir, onProgress: progress, timeline: o.target.timeline });
  const { event, tablespaces, ...target } = found;
  if (o.target.timeline) target.timeline = o.target.timeline;
  return { target, event, tablespaces };
}

/**
 * No event names the requested tables; the best candidate has files no
 * catalog could name. Going on needs the person's explicit word (never --yes
 * alone) or a target they give themselves.
 */
async function confirmUnnamedEvent(event: LocatedEvent, tables: TableName[], ui: RecoverUi, log: IncidentLog): Promise<void> {
  const what = `No destructive transaction in the WAL names ${tables.map((t) => displayName(t)).join(', ')}; the newest candidate, transaction ${event.xid} (${event.kind}, committed ${event.commitTime}), has files no catalog could name: ${event.unnamedReason}.`;
  const hint = `If it is the incident, pass --target xid:${event.xid} (or --target-xid ${event.xid}); otherwise find the right one with \`undrop locate --tables …\` and pass its --target, or a --target-time with a zone.`;
  log.event('incident-unnamed', { xid: event.xid, reason: event.unnamedReason });
  if (!ui.confirmUnnamed) throw usageError('INCIDENT_UNNAMED', `${what} undrop will not guess which transaction lost the tables, and --yes does not confirm a guess.`, hint);
  const ok = await ui.confirmUnnamed(`Undo transaction ${event.xid}, which no catalog could name?`, [what]);
  if (!ok) throw usageError('DECLINED', 'The unnamed transaction was not confirmed; production was not touched.', hint);
  log.event('incident-unnamed-confirmed', { xid: event.xid });
}

/**
 * Remember in the incident folder what undrop made in production (the side
 * schema and its files), so a later locate lists its drop as housekeeping.
 */
async function recordOwnObjects(prod: ConnParams, schema: string, log: IncidentLog): Promise<void> {
  const entry = await withClient(prod, async (c) => {
    const db = await c.query<{ oid: string }>('select oid::int8::text as oid from pg_database where datname = current_database()');
    const r = await c.query<{ f: string; s: string; t: string }>(
      `with rels as (
         select c.oid, c.relfilenode, c.reltoastrelid, n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1
       ), owned as (
         select relfilenode, nspname, relname from rels
         union all select t.relfilenode, r.nspname, r.relname from rels r join pg_class t on t.oid = r.reltoastrelid
         union all select i.relfilenode, r.nspname, r.relname from rels r join pg_index x on x.indrelid = r.reltoastrelid join pg_class i on i.oid = x.indexrelid
       )
       select relfilenode::int8::text as f, nspname as s, relname as t from owned where relfilenode <> 0`,
      [schema],
    );
    return { schema, databaseOid: Number(db.rows[0]!.oid), files: r.rows.map((x) => ({ relfilenode: Number(x.f), name: displayName({ schema: x.s, name: x.t }) })) };
  }, { applicationName: 'undrop recover', statementTimeoutMs: 10_000 });
  log.event('undrop-objects', { ...entry });
}

/** What the early warning says about one recreated table. Pure. */
export function recreatedWarning(r: { table: string; liveRows: number; keyRestarted: boolean }): string {
  return r.keyRestarted
    ? `the incident dropped and recreated ${r.table}; its key sequence restarted with it and ${r.liveRows} row(s) were written since, reusing lost rows' keys. A merge will meet collisions (--on-conflict fail|keep-live|rekey-live decides).`
    : `the incident dropped and recreated ${r.table}; ${r.liveRows} row(s) were written to it since. Where they reuse a lost row's key, a merge meets a collision (--on-conflict decides).`;
}

/** Lost tables that exist live again (recreated by the incident): every row in them was written since. */
async function liveRowsSince(prod: ConnParams, tables: TableName[]): Promise<{ table: string; liveRows: number; keyRestarted: boolean }[]> {
  return withClient(
    prod,
    async (c) => {
      const out: { table: string; liveRows: number; keyRestarted: boolean }[] = [];
      for (const t of tables) {
        const rel = { schema: t.schema ?? 'public', name: t.name };
        const exists = await c.query(`SELECT to_regclass($1) IS NOT NULL AS e`, [qualified(rel)]);
        if (!exists.rows[0].e) continue;
        const n = Number((await c.query<{ n: string }>(`SELECT count(*)::bigint AS n FROM ${qualified(rel)}`)).rows[0]!.n);
        // A primary key drawn from a sequence or identity owned by the table was recreated with it, so it started again.
        const seq = await c.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_constraint con, unnest(con.conkey) k(n) JOIN pg_attribute a ON a.attnum = k.n
            WHERE con.conrelid = $1::text::regclass AND con.contype = 'p' AND a.attrelid = con.conrelid AND pg_get_serial_sequence($1::text, a.attname) IS NOT NULL`,
          [qualified(rel)],
        );
        if (n > 0) out.push({ table: displayName(rel), liveRows: n, keyRestarted: seq.rows[0]!.n > 0 });
      }
      return out;
    },
    { applicationName: 'undrop recover', statementTimeoutMs: 60_000, lockTimeoutMs: 2000 },
  );
}

/** Guided flow: list the destructive events, let the person pick one; its tables and target follow. */
async function pickIncident(o: RecoverOptions, production: ConnParams, ui: RecoverUi, progress: (m: string) => void): Promise<{ tables: TableName[]; target: ResolvedTarget; event: LocatedEvent; tablespaces?: TablespaceScan }> {
  if (!ui.pickEvent) throw usageError('TABLES_REQUIRED', 'recover needs --tables when it cannot ask.', 'Name the lost tables: --tables shipments,shipment_events (`undrop locate` lists what was dropped).');
  const r = await locate(o.inventory, { database: production.database, production, workDir: o.workDir, onProgress: progress });
  if (r.events.length === 0) {
    throw failure('NO_INCIDENT_FOUND', 'No destructive transaction was found in the WAL.', { hint: 'Name the tables and the target yourself: --tables … --target time:2026-11-25T01:42:00Z (or xid:N, lsn:X/Y).' });
  }
  const event = await ui.pickEvent(r.events, r.undrop);
  const tablespaces = r.tablespaces;
  const names = event.relations.map((x) => x.name);
  if (names.some((n) => !n)) {
    throw usageError('TABLE_NAMES_UNKNOWN', `Transaction ${event.xid} removed files that no catalog could name.`, 'Name the tables yourself with --tables, and pass --target xid:' + event.xid + '.');
  }
  return { tables: names.map((n) => parseTableName(n!)), target: eventTarget(event), event, tablespaces };
}

/** The named source, or the best-ranked one that is not unusable (usable before degraded). */
export function chooseSource(inv: Inventory, report: ProbeReport, named: string | undefined): { config: SourceConfig; probe: ProbeResult; reason: { name: string; reason: string } } {
  const byName = new Map(report.sources.map((s) => [s.name, s]));
  const configOf = (name: string) => inv.sources.find((s) => s.name === name)!;
  if (named) {
    const p = byName.get(named);
    if (!p) throw failure('SOURCE_NOT_PROBED', `Source ${named} could not be probed.`);
    if (p.status === 'unusable') {
      missingPrograms([p]);
      throw failure('SOURCE_UNUSABLE', `Source ${named} is unusable: ${p.findings.find((f) => f.level === 'error')?.message ?? 'see undrop probe'}`, { hint: 'Run `undrop probe` and choose a usable source, or use --source auto.' });
    }
    return { probe: p, config: configOf(named), reason: { name: named, reason: `chosen by name (${p.status})` } };
  }
  const candidates = report.ranking.map((n) => byName.get(n)).filter((p): p is ProbeResult => !!p && p.status !== 'unusable');
  const best = candidates.find((p) => p.status === 'usable') ?? candidates[0];
  if (!best) {
    missingPrograms(report.sources);
    throw failure('NO_USABLE_SOURCE', 'No source can bring the tables back.', {
      hint: 'Run `undrop probe` to see why each source is unusable.',
      details: report.sources.map((s) => `  ${s.name}: ${s.status} — ${s.findings.find((f) => f.level === 'error')?.message ?? ''}`),
    });
  }
  const loss = best.lossWindowMs != null ? `, loses ${Math.round(best.lossWindowMs / 1000)} s of commits` : '';
  return { probe: best, config: configOf(best.name), reason: { name: best.name, reason: `best-ranked ${best.status} source (newest recovery point${loss})` } };
}


/**
 * --set against the chosen source's probe: unknown (SET_UNKNOWN, exit 2) or unusable (the code materialize
 * would end with) is refused before materialize. A pinned item unusable only because this host lacks its
 * PostgreSQL programs is the host's problem (exit 2, what to install).
 */
function checkPinned(probe: ProbeResult, set: string): void {
  try {
    pinnedProbeItem(probe, set);
  } catch (e) {
    if (isUndropError(e) && e.code !== 'SET_UNKNOWN') missingPrograms([{ ...probe, findings: pinnedItem(probe.items ?? [], set, (i) => [i.label, i.path], probe.name).findings }]);
    throw e;
  }
}

/** The UI's Ctrl-C at a prompt (no signal: the terminal was in raw mode). */
function isInterruptedAtPrompt(e: unknown): boolean {
  return isUndropError(e) && e.code === 'INTERRUPTED' && !interruptedSignal();
}

/**
 * A source unusable only because this host lacks the PostgreSQL programs of
 * its major is the host's problem, not the backup's: exit 2, the version and
 * the package to install (the probe keeps the program's own words).
 */
function missingPrograms(probes: ProbeResult[]): void {
  for (const p of probes) {
    for (const f of p.findings) {
      if (f.level !== 'error') continue;
      const m = /for PostgreSQL (\d+) is not in|PostgreSQL (\d+) programs are needed|no PostgreSQL (\d+) server programs/.exec(f.message);
      if (!m && !['PG_PROGRAM_MISSING', 'PG_VERSION_MISSING', 'SERVER_PROGRAMS_MISSING'].includes(f.code)) continue;
      const major = m ? Number(m[1] ?? m[2] ?? m[3]) : undefined;
      const whole = f.code !== 'PG_PROGRAM_MISSING' && !m?.[1];
      throw usageError(whole ? 'PG_VERSION_MISSING' : 'PG_PROGRAM_MISSING', `Source ${p.name}: ${f.message}`, installHint(major));
    }
  }
}
