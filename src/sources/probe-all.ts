// Probe every source in parallel, each under its own timeout. A probe that
// throws or times out becomes an `unusable` result with a finding; the
// whole probe never fails because one source did.
import { errorMessage, isUndropError } from '../errors.js';
import type { Inventory, SourceConfig } from '../inventory/schema.js';
import { warmDiscovery } from '../postgres/binaries.js';
import { withClient } from '../postgres/connect.js';
import { type ConnParams, resolveConnParams } from '../postgres/conninfo.js';
import { defaultWorkDir } from '../postgres/instance.js';
import type { TableName } from '../postgres/identifiers.js';
import type { ResolvedTarget } from './target.js';
import { checkLossWindow, checkMinRows, thresholdsFor } from './common/thresholds.js';
import { rankResults } from './rank.js';
import { probeSource } from './registry.js';
import type { ProbeContext, ProbeResult } from './types.js';

export interface ProductionInfo {
  reachable: boolean;
  systemIdentifier: string | null;
  serverVersion: string | null;
  error: string | null;
}

export interface ProbeAllOptions {
  tables?: TableName[];
  target?: ResolvedTarget;
  deep?: boolean;
  /** Only these source names. */
  only?: string[];
  workDir?: string;
  now?: Date;
  /** Overrides every source's own timeout (tests). */
  timeoutMs?: number;
  /** Called when each probe starts and ends (progress display). */
  onStart?: (s: SourceConfig) => void;
  onDone?: (s: SourceConfig, r: ProbeResult) => void;
  /** Skip contacting production (system identifier comparisons are then skipped). */
  skipProduction?: boolean;
  /** See ProbeContext.verify (default 'every'). */
  verify?: 'every' | 'chosen';
  /** See ProbeContext.pinned. */
  pinned?: string;
}

export interface ProbeReport {
  sources: ProbeResult[];
  ranking: string[];
  production: ProductionInfo;
  target: ResolvedTarget | null;
  durationMs: number;
}

/** Production's system identifier, for "is this backup of the same cluster?" (never throws). */
export async function productionInfo(inv: Pick<Inventory, 'production'>, timeoutMs = 5_000): Promise<{ info: ProductionInfo; params?: ConnParams }> {
  let params: ConnParams;
  try {
    params = resolveConnParams(inv.production.dsn);
  } catch (e) {
    return { info: { reachable: false, systemIdentifier: null, serverVersion: null, error: errorMessage(e) } };
  }
  if (!inv.production.dsn && !process.env.PGHOST && !process.env.PGSERVICE && !process.env.PGDATABASE) {
    return { info: { reachable: false, systemIdentifier: null, serverVersion: null, error: 'no production dsn in the inventory' }, params };
  }
  try {
    const row = await withClient(
      params,
      async (c) => (await c.query<{ sid: string; v: string }>("select (select system_identifier::text from pg_control_system()) as sid, current_setting('server_version') as v")).rows[0]!,
      { statementTimeoutMs: timeoutMs, connectTimeoutMs: timeoutMs, applicationName: 'undrop probe' },
    );
    return { info: { reachable: true, systemIdentifier: row.sid, serverVersion: row.v, error: null }, params };
  } catch (e) {
    return { info: { reachable: false, systemIdentifier: null, serverVersion: null, error: errorMessage(e) }, params };
  }
}

function failed(s: SourceConfig, code: string, message: string, hint: string | undefined, durationMs: number): ProbeResult {
  return {
    name: s.name,
    kind: s.kind,
    status: 'unusable',
    recoveryPoint: null,
    tables: [],
    findings: [{ level: 'error', code, message, ...(hint ? { hint } : {}) }],
    durationMs,
  };
}

/** max_loss_window and min_rows, shared by probe --strict and verify: a usable source that breaks one is degraded. */
function withSharedThresholds(s: SourceConfig, r: ProbeResult, now: Date): ProbeResult {
  if (r.status === 'unusable') return r;
  const t = thresholdsFor(s);
  const counted = r.tables.filter((x) => x.rows !== null);
  const extra = [...checkLossWindow(t, r.recoveryPoint?.time, now), ...checkMinRows(t, counted.length ? counted.reduce((n, x) => n + (x.rows ?? 0), 0) : null)];
  return extra.length ? { ...r, status: 'degraded', findings: [...r.findings, ...extra] } : r;
}

/** Run one source's probe under its timeout; never throws. */
export async function probeOne(s: SourceConfig, ctx: ProbeContext): Promise<ProbeResult> {
  const started = Date.now();
  const timeoutMs = ctx.timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ProbeResult>((resolve) => {
    timer = setTimeout(
      () => resolve(failed(s, 'PROBE_TIMEOUT', `The probe did not finish within ${Math.round(timeoutMs / 1000)} s.`, 'The source is slow or hanging; raise its timeout in undrop.yaml (timeout: 2min) or check it by hand.', Date.now() - started)),
      timeoutMs,
    );
  });
  try {
    const run = probeSource(s, ctx).catch((e: unknown) =>
      failed(s, isUndropError(e) ? e.code : 'PROBE_CRASHED', isUndropError(e) ? e.message : `The probe failed: ${errorMessage(e)}`, isUndropError(e) ? e.hint : 'This is a bug in undrop; rerun with --debug and report it.', Date.now() - started),
    );
    return await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function probeAll(inv: Inventory, o: ProbeAllOptions = {}): Promise<ProbeReport> {
  const started = Date.now();
  warmDiscovery(); // pg_config and pg_ctl --version run while production is checked and the sources are read
  const sources = o.only?.length ? inv.sources.filter((s) => o.only!.includes(s.name)) : inv.sources;
  const prod = o.skipProduction ? { info: { reachable: false, systemIdentifier: null, serverVersion: null, error: 'skipped' } as ProductionInfo } : await productionInfo(inv);
  const now = o.now ?? new Date();
  const results = await Promise.all(
    sources.map(async (s) => {
      o.onStart?.(s);
      const ctx: ProbeContext = {
        tables: o.tables ?? [],
        target: o.target,
        deep: !!o.deep,
        timeoutMs: o.timeoutMs ?? thresholdsFor(s).timeoutMs * (o.deep ? 10 : 1),
        production: prod.params,
        productionSystemId: prod.info.systemIdentifier ?? undefined,
        workDir: o.workDir ?? inv.workDir ?? defaultWorkDir(),
        now,
        walArchive: inv.sources.flatMap((x) => (x.kind === 'pitr' && x.wal_archive ? [x.wal_archive] : []))[0],
        ...(o.verify ? { verify: o.verify } : {}),
        ...(o.pinned ? { pinned: o.pinned } : {}),
      };
      const r = withSharedThresholds(s, await probeOne(s, ctx), now);
      o.onDone?.(s, r);
      return r;
    }),
  );
  const ranked = rankResults(results);
  return { sources: results, ranking: ranked.map((r) => r.name), production: prod.info, target: o.target ?? null, durationMs: Date.now() - started };
}
