// `undrop verify`: a restore test of every source (or one), before any
// incident. Each backup is materialized into a temporary instance exactly as
// recover would do it, its tables are listed and counted, and everything is
// torn down. A delayed replica is only probed: verify never pauses it.
import { usageError } from '../errors.js';
import type { Inventory, SourceConfig } from '../inventory/schema.js';
import { withClient } from '../postgres/connect.js';
import { resolveConnParams } from '../postgres/conninfo.js';
import { type TableName, displayName, quoteIdent } from '../postgres/identifiers.js';
import { probeAll } from '../sources/probe-all.js';
import { materializeSource } from '../sources/registry.js';
import type { RecoveryPoint } from '../sources/types.js';
import type { ResolvedTarget } from '../sources/target.js';

export interface RestoreTestResult {
  name: string;
  kind: SourceConfig['kind'];
  /** Restored (or, for a replica, probed) without error AND the probe found it fully usable. */
  ok: boolean;
  probeStatus: 'usable' | 'degraded' | 'unusable';
  /** The probe's warnings and errors (a broken newest dump, an old backup…): why a restorable source is still unhealthy. */
  problems: { level: string; code: string; message: string }[];
  /** What was done: "restored", or "probed" for a delayed replica. */
  checked: 'restored' | 'probed';
  recoveryPoint: RecoveryPoint | null;
  tables: { name: string; rows: number }[];
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
  onProgress?: (source: string, msg: string) => void;
}

/**
 * A restore test replays to the end of what the source holds (the newest base
 * backup and all WAL after it); the instance is thrown away, and gaps are the
 * probe's to report. The recovery point reached is reported from the log.
 */
const LATEST: ResolvedTarget = { kind: 'latest', inclusive: false, origin: 'verify: the newest state the source holds' };

async function userTables(conn: Parameters<typeof withClient>[0]): Promise<{ name: string; rows: number }[]> {
  return withClient(conn, async (c) => {
    const r = await c.query<{ s: string; t: string }>(
      "select n.nspname as s, c.relname as t from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relkind in ('r','p') and n.nspname not in ('pg_catalog','information_schema') and n.nspname not like 'pg_toast%' order by 1, 2",
    );
    const out: { name: string; rows: number }[] = [];
    for (const row of r.rows.slice(0, 200)) {
      const t = { schema: row.s, name: row.t };
      const n = await c.query<{ n: string }>(`select count(*)::text as n from ${quoteIdent(t.schema)}.${quoteIdent(t.name)}`);
      out.push({ name: displayName(t), rows: Number(n.rows[0]!.n) });
    }
    return out;
  }, { statementTimeoutMs: 0 });
}

export async function restoreTest(o: RestoreTestOptions): Promise<RestoreTestResult[]> {
  const sources = o.source ? o.inventory.sources.filter((s) => s.name === o.source) : o.inventory.sources;
  if (o.source && sources.length === 0) {
    throw usageError('SOURCE_UNKNOWN', `There is no source named "${o.source}" in ${o.inventory.file}.`, `Known sources: ${o.inventory.sources.map((s) => s.name).join(', ') || '(none)'}.`);
  }
  const database = o.database ?? resolveConnParams(o.inventory.production.dsn).database;
  if (!database) throw usageError('DATABASE_UNKNOWN', 'Which database should the restore test check? Production\'s DSN names none.', 'Pass --database NAME.');
  const report = await probeAll(o.inventory, { tables: o.tables, only: sources.map((s) => s.name), workDir: o.workDir });
  const out: RestoreTestResult[] = [];
  // One after another: each restore may need the disk the previous one used.
  for (const cfg of sources) {
    const p = report.sources.find((r) => r.name === cfg.name)!;
    const t0 = Date.now();
    const problems = [...p.findings, ...(p.items ?? []).flatMap((i) => i.findings.map((f) => ({ ...f, message: `${i.label}: ${f.message}` })))]
      .filter((f) => f.level !== 'info')
      .map((f) => ({ level: f.level, code: f.code, message: f.message }))
      .filter((f, i, all) => all.findIndex((g) => g.message.endsWith(f.message) || f.message.endsWith(g.message)) === i);
    const base = { name: cfg.name, kind: cfg.kind, recoveryPoint: p.recoveryPoint, notes: [] as string[], probeStatus: p.status, problems };
    const healthy = p.status === 'usable';
    if (cfg.kind === 'delayed-replica') {
      const err = p.findings.find((f) => f.level === 'error');
      out.push({ ...base, ok: healthy, checked: 'probed', tables: [], durationMs: p.durationMs, error: err ? { code: err.code, message: err.message, hint: err.hint } : undefined, notes: ['Probed only: verify never pauses a replica.'] });
      continue;
    }
    if (p.status === 'unusable') {
      const err = p.findings.find((f) => f.level === 'error');
      out.push({ ...base, ok: false, checked: 'restored', tables: [], durationMs: p.durationMs, error: { code: err?.code ?? 'UNUSABLE', message: err?.message ?? 'the probe found nothing usable', hint: err?.hint } });
      continue;
    }
    try {
      const m = await materializeSource(cfg, { tables: o.tables, database, target: LATEST, keep: false, workDir: o.workDir, selective: false, onProgress: (msg) => o.onProgress?.(cfg.name, msg) }, p);
      try {
        const tables = o.tables.length ? m.tables : await userTables(m.conn);
        out.push({ ...base, ok: healthy, checked: 'restored', recoveryPoint: m.recoveryPoint, tables, durationMs: Date.now() - t0, notes: m.notes });
      } finally {
        await m.release();
      }
    } catch (e) {
      const err = e as { code?: string; message?: string; hint?: string };
      out.push({ ...base, ok: false, checked: 'restored', tables: [], durationMs: Date.now() - t0, error: { code: err.code ?? 'RESTORE_FAILED', message: err.message ?? String(e), hint: err.hint } });
    }
  }
  return out;
}
