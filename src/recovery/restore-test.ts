// `undrop verify`: a restore test of every source (or one), before any
// incident. Each backup is materialized into a temporary instance exactly as
// recover would do it, the validation suite (src/verify/) runs against it,
// and everything is torn down. A delayed replica is only probed and its
// tables counted read-only: verify never pauses it.
import { usageError } from '../errors.js';
import type { Inventory, SourceConfig } from '../inventory/schema.js';
import { mergeVerify } from '../inventory/verify-schema.js';
import { type ConnParams, resolveConnParams } from '../postgres/conninfo.js';
import { type TableName, parseTableName } from '../postgres/identifiers.js';
import { assertDiskSpace } from '../sources/materialize/preflight.js';
import { checkLossWindow, checkMinRows, checkVerifyDuration, thresholdsFor } from '../sources/common/thresholds.js';
import { probeAll } from '../sources/probe-all.js';
import { materializeSource } from '../sources/registry.js';
import type { ProbeResult, RecoveryPoint } from '../sources/types.js';
import type { ResolvedTarget } from '../sources/target.js';
import { withClient } from '../postgres/connect.js';
import { algorithmOf, tableChecksum } from './checksum.js';
import { type ProductionPoint, createProductionPoint } from '../verify/restore-point.js';
import { type CheckResult, productionTables, runSuite } from '../verify/suite.js';
import type { CountedTable } from '../verify/tables.js';

export interface RestoreTestResult {
  name: string;
  kind: SourceConfig['kind'];
  /** Every check passed. */
  ok: boolean;
  probeStatus: 'usable' | 'degraded' | 'unusable';
  /** The probe's warnings and errors (a broken newest dump, an old backup…): why a restorable source is still unhealthy. */
  problems: { level: string; code: string; message: string }[];
  /** "restored", or "probed" for a delayed replica (probed, not restored; its tables counted read-only). */
  checked: 'restored' | 'probed';
  recoveryPoint: RecoveryPoint | null;
  /** Size of what a restore copies (the largest backup, dump or snapshot), when known. */
  sizeBytes: number | null;
  tables: CountedTable[];
  /** Every check, passed or failed: probe, disk, restore, tables, rows, query:NAME, amcheck, checksum, min_rows, loss_window, duration. */
  checks: CheckResult[];
  durationMs: number;
  error?: { code: string; message: string; hint?: string };
  notes: string[];
}

export interface RestoreTestOptions {
  inventory: Inventory;
  source?: string;
  tables: TableName[];
  database?: string;
  workDir: string;
  /** Restores at once (default 1: each may need the disk the previous one used). */
  maxParallel?: number;
  onProgress?: (source: string, msg: string) => void;
  now?: Date;
}

/** The newest state the source holds (the newest base backup and all WAL after it). */
const LATEST: ResolvedTarget = { kind: 'latest', inclusive: false, origin: 'verify: the newest state the source holds' };
const WAL_KINDS = new Set(['pitr', 'pgbackrest', 'barman']);

function problemsOf(p: ProbeResult): RestoreTestResult['problems'] {
  return [...p.findings, ...(p.items ?? []).flatMap((i) => i.findings.map((f) => ({ ...f, message: `${i.label}: ${f.message}` })))]
    .filter((f) => f.level !== 'info')
    .map((f) => ({ level: f.level, code: f.code, message: f.message }))
    .filter((f, i, all) => all.findIndex((g) => g.message.endsWith(f.message) || f.message.endsWith(g.message)) === i);
}

function sizeOf(p: ProbeResult): number | null {
  const sizes = (p.items ?? []).flatMap((i) => (i.sizeBytes !== undefined ? [i.sizeBytes] : []));
  return sizes.length ? Math.max(...sizes) : null;
}

async function checksumCheck(conn: ConnParams, point: ProductionPoint): Promise<CheckResult> {
  const differ: string[] = [];
  await withClient(conn, async (c) => {
    for (const [name, prod] of Object.entries(point.checksums)) {
      const got = await tableChecksum(c, parseTableName(name), { algorithm: algorithmOf(prod.checksum) }).catch((e: Error) => ({ rows: -1, checksum: `error: ${e.message}` }));
      if (got.checksum !== prod.checksum || got.rows !== prod.rows) differ.push(`${name} (${got.rows} rows ${got.checksum}, production ${prod.rows} rows ${prod.checksum})`);
    }
  }, { statementTimeoutMs: 0 });
  const n = Object.keys(point.checksums).length;
  return differ.length
    ? { check: 'checksum', ok: false, message: `Differs from production at restore point ${point.name}: ${differ.join('; ')}.` }
    : { check: 'checksum', ok: true, message: `${n} table(s) equal to production at restore point ${point.name} (${point.lsn}).` };
}

interface Shared {
  o: RestoreTestOptions;
  database: string;
  report: Awaited<ReturnType<typeof probeAll>>;
  production: CountedTable[] | null;
  point: ProductionPoint | null;
  pointError: string | null;
  /** Bytes that restores running now will use: the disk check counts them. */
  reserved: { bytes: number };
  now: Date;
}

async function testOne(cfg: SourceConfig, s: Shared): Promise<RestoreTestResult> {
  const p = s.report.sources.find((r) => r.name === cfg.name)!;
  const t0 = Date.now();
  const suite = mergeVerify(s.o.inventory.verify, cfg.verify);
  if (s.o.tables.length) suite.tables = s.o.tables.map((t) => `${t.schema ?? 'public'}.${t.name}`);
  const th = thresholdsFor(cfg);
  const sizeBytes = sizeOf(p);
  const problems = problemsOf(p);
  const checks: CheckResult[] = [{ check: 'probe', ok: p.status === 'usable', message: p.status === 'usable' ? 'The probe found the source usable.' : `The probe found the source ${p.status}${problems[0] ? `: ${problems[0].message}` : '.'}` }];
  const notes: string[] = [];
  const result = (r: Partial<RestoreTestResult> & Pick<RestoreTestResult, 'checked'>): RestoreTestResult => {
    const durationMs = Date.now() - t0;
    const point = r.recoveryPoint !== undefined ? r.recoveryPoint : p.recoveryPoint;
    const tables = r.tables ?? [];
    const counted = tables.filter((x) => x.rows !== null);
    for (const f of [...checkVerifyDuration(th, durationMs), ...checkLossWindow(th, point?.time, s.now), ...checkMinRows(th, counted.length ? counted.reduce((n, x) => n + (x.rows ?? 0), 0) : null)]) {
      checks.push({ check: f.code === 'VERIFY_TOO_SLOW' ? 'duration' : f.code === 'LOSS_WINDOW' ? 'loss_window' : 'min_rows', ok: false, message: f.message });
    }
    return { name: cfg.name, kind: cfg.kind, probeStatus: p.status, problems, recoveryPoint: point, sizeBytes, tables, checks, notes, durationMs, ...r, ok: checks.every((c) => c.ok) };
  };
  const ageOf = (point: RecoveryPoint | null) => (point?.time ? s.now.getTime() - Date.parse(point.time) : 0);

  if (cfg.kind === 'delayed-replica') {
    notes.push('Probed, not restored: verify never pauses a replica; its tables were counted read-only.');
    if (p.status === 'unusable') return result({ checked: 'probed' });
    try {
      const r = await runSuite(resolveConnParams(cfg.dsn), { suite: { ...suite, amcheck: false }, production: s.production, ageMs: ageOf(p.recoveryPoint), readOnly: true });
      checks.push(...r.checks);
      const locked = r.tables.filter((t) => t.rows === null);
      if (locked.length) notes.push(`${locked.length} table(s) not counted (locked by replay or cancelled): ${locked.map((t) => t.name).join(', ')}.`);
      return result({ checked: 'probed', tables: r.tables });
    } catch (e) {
      checks.push({ check: 'read', ok: false, message: `Reading the replica failed: ${(e as Error).message}` });
      return result({ checked: 'probed' });
    }
  }
  if (p.status === 'unusable') {
    const err = p.findings.find((f) => f.level === 'error');
    checks.push({ check: 'restore', ok: false, message: err?.message ?? 'the probe found nothing usable' });
    return result({ checked: 'restored', error: { code: err?.code ?? 'UNUSABLE', message: err?.message ?? 'the probe found nothing usable', hint: err?.hint } });
  }
  const wantsChecksums = WAL_KINDS.has(cfg.kind) && (suite.checksums?.length ?? 0) > 0;
  if (wantsChecksums && !s.point) checks.push({ check: 'checksum', ok: false, message: `No restore point on production: ${s.pointError ?? 'unknown'}` });
  const target: ResolvedTarget = wantsChecksums && s.point ? { kind: 'name', name: s.point.name, inclusive: false, origin: `verify: restore point ${s.point.name}` } : LATEST;
  const need = sizeBytes ?? 0;
  try {
    await assertDiskSpace(s.o.workDir, need + s.reserved.bytes, `Restoring ${cfg.name}${s.reserved.bytes ? ' (with the restores running beside it)' : ''}`);
  } catch (e) {
    const err = e as { code?: string; message?: string; hint?: string };
    checks.push({ check: 'disk', ok: false, message: err.message ?? String(e) });
    return result({ checked: 'restored', error: { code: err.code ?? 'DISK_SPACE', message: err.message ?? String(e), hint: err.hint } });
  }
  s.reserved.bytes += need;
  try {
    const m = await materializeSource(cfg, { tables: s.o.tables, database: s.database, target, keep: false, workDir: s.o.workDir, selective: 'off', onProgress: (msg) => s.o.onProgress?.(cfg.name, msg) }, p);
    try {
      checks.push({ check: 'restore', ok: true, message: `Restored; recovery point ${m.recoveryPoint.time ?? m.recoveryPoint.lsn ?? 'unknown'}.` });
      notes.push(...m.notes);
      const r = await runSuite(m.conn, { suite, production: s.production, ageMs: ageOf(m.recoveryPoint), readOnly: false });
      checks.push(...r.checks);
      if (wantsChecksums && s.point) checks.push(await checksumCheck(m.conn, s.point));
      return result({ checked: 'restored', recoveryPoint: m.recoveryPoint, tables: r.tables });
    } finally {
      await m.release();
    }
  } catch (e) {
    const err = e as { code?: string; message?: string; hint?: string };
    checks.push({ check: 'restore', ok: false, message: err.message ?? String(e) });
    return result({ checked: 'restored', error: { code: err.code ?? 'RESTORE_FAILED', message: err.message ?? String(e), hint: err.hint } });
  } finally {
    s.reserved.bytes -= need;
  }
}

export async function restoreTest(o: RestoreTestOptions): Promise<RestoreTestResult[]> {
  const sources = o.source ? o.inventory.sources.filter((s) => s.name === o.source) : o.inventory.sources;
  if (o.source && sources.length === 0) {
    throw usageError('SOURCE_UNKNOWN', `There is no source named "${o.source}" in ${o.inventory.file}.`, `Known sources: ${o.inventory.sources.map((s) => s.name).join(', ') || '(none)'}.`);
  }
  const prodParams = resolveConnParams(o.inventory.production.dsn);
  const database = o.database ?? prodParams.database;
  if (!database) throw usageError('DATABASE_UNKNOWN', 'Which database should the restore test check? Production\'s DSN names none.', 'Pass --database NAME.');
  const now = o.now ?? new Date();
  const report = await probeAll(o.inventory, { tables: o.tables, only: sources.map((s) => s.name), workDir: o.workDir, now });
  const prod = { ...prodParams, database };
  const production = await productionTables(prod);
  // One restore point serves every WAL source that compares checksums.
  const checksumTables = [...new Set(sources.filter((s) => WAL_KINDS.has(s.kind)).flatMap((s) => mergeVerify(o.inventory.verify, s.verify).checksums ?? []))].map((t) => parseTableName(t));
  let point: ProductionPoint | null = null;
  let pointError: string | null = null;
  if (checksumTables.length) {
    o.onProgress?.('production', 'creating a restore point');
    point = await createProductionPoint(prod, checksumTables).catch((e: Error) => ((pointError = e.message), null));
  }
  const shared: Shared = { o, database, report, production, point, pointError, reserved: { bytes: 0 }, now };
  const out: RestoreTestResult[] = new Array(sources.length);
  let next = 0;
  const worker = async () => {
    while (next < sources.length) {
      const i = next++;
      out[i] = await testOne(sources[i]!, shared);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.maxParallel ?? 1, sources.length)) }, worker));
  return out;
}
