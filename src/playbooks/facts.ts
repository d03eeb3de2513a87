// The values a runbook's placeholders are filled with: the inventory's
// paths and DSNs (never a password), the chosen backup / set / snapshot /
// dump (--set, else the newest), the target, the tables, and the temporary
// instance's folder and port. Read-only: nothing here changes a source.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { usageError } from '../errors.js';
import type { Inventory } from '../inventory/schema.js';
import type { SourceConfig } from '../inventory/schema.js';
import { findBinaries } from '../postgres/binaries.js';
import { resolveConnParams, safeDsn } from '../postgres/conninfo.js';
import { displayName, qualified, quoteIdent, quoteLiteral, type TableName } from '../postgres/identifiers.js';
import { asServerUserPrefix } from '../postgres/os-user.js';
import { findFreePort } from '../postgres/ports.js';
import { pgbackrestInfo } from '../postgres/programs.js';
import { expandPatterns } from '../sources/common/paths.js';
import { parsePgbackrestInfo } from '../sources/pgbackrest/info.js';
import type { BarmanBackup } from '../sources/barman/catalog.js';
import { barmanBackups } from '../sources/barman/probe.js';
import { backupDirs, readBaseBackup } from '../sources/pitr/backups.js';
import type { Values } from './placeholders.js';
import type { Playbook } from './schema.js';

export interface FactOptions {
  inventory?: Inventory;
  tables: TableName[];
  /** recovery_target_xid of the destructive transaction. */
  xid?: string;
  /** Only items that started before this time are chosen (ISO 8601). */
  before?: string;
  source?: string;
  set?: string;
  schema?: string;
  restoreDir?: string;
  port?: number;
}

export interface Facts {
  values: Values;
  /** Which source of the inventory filled source.* (null without one). */
  source: string | null;
  /** What was chosen and why, for the runbook's header. */
  notes: string[];
}

export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function defaultSideSchema(now = new Date()): string {
  return `recovered_${now.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '_')}`;
}

export function serverOsUser(): string {
  return asServerUserPrefix()[2] ?? process.env.UNDROP_OS_USER ?? 'postgres';
}

/** Table placeholders (pure; unit-tested). */
export function tableValues(tables: readonly TableName[], schema: string): Values {
  if (!tables.length) return {};
  const names = tables.map((t) => t.name);
  if (new Set(names).size !== names.length) throw usageError('PLAYBOOK_TABLES', 'Two of the tables have the same name in different schemas; one side schema cannot hold both.', 'Print the runbook once per schema (--tables).');
  const side = quoteIdent(schema);
  return {
    tables: tables.map((t) => displayName(t)).join(','),
    'tables.dump_args': tables.map((t) => `-t '${qualified(t).replace(/'/g, `'\\''`)}'`).join(' '),
    'tables.set_schema_sql': tables.map((t) => `ALTER TABLE ${qualified(t)} SET SCHEMA ${side};`).join('\n'),
    'tables.count_sql': `SELECT ${tables.map((t) => `(SELECT count(*) FROM ${side}.${quoteIdent(t.name)})`).join(', ')};`,
    'tables.oid_sql': tables.map((t) => `${quoteLiteral(qualified(t))}::regclass`).join(', '),
  };
}

function pickSource(inv: Inventory | undefined, kind: string | undefined, name: string | undefined): SourceConfig | undefined {
  if (!inv) return undefined;
  if (name) {
    const s = inv.sources.find((x) => x.name === name);
    if (!s) throw usageError('SOURCE_UNKNOWN', `The inventory has no source named "${name}".`, `Sources: ${inv.sources.map((x) => x.name).join(', ') || 'none'}.`);
    if (kind && s.kind !== kind) throw usageError('SOURCE_KIND_MISMATCH', `Source "${name}" is a ${s.kind} source, not ${kind}.`, `Print its runbook with: undrop playbook ${s.kind} --source ${name}`);
    return s;
  }
  return inv.sources.find((x) => x.kind === (kind ?? 'delayed-replica'));
}

const matchesSet = (set: string, path: string, label: string) => set === path || set === label || path.endsWith(`/${set}`);

async function newestFile(paths: string[], set: string | undefined, before: string | undefined, what: string): Promise<string | undefined> {
  if (set) {
    const hit = paths.find((p) => matchesSet(set, p, p.split('/').pop()!) || p.split('/').includes(set));
    if (!hit) throw usageError('SET_UNKNOWN', `--set ${set}: no ${what} with that name or path.`, `Found: ${paths.join(', ') || 'none'}.`);
    return hit;
  }
  const withTimes = await Promise.all(paths.map(async (p) => ({ p, t: (await stat(p).catch(() => undefined))?.mtime.toISOString() ?? '' })));
  const eligible = withTimes.filter((x) => !before || (x.t && x.t < before));
  return eligible.sort((a, b) => a.t.localeCompare(b.t) || a.p.localeCompare(b.p)).pop()?.p;
}

async function sourceValues(s: SourceConfig, o: FactOptions, inv: Inventory, notes: string[]): Promise<Values> {
  const v: Values = {};
  const archive = inv.sources.find((x) => x.kind === 'pitr' && x.wal_archive) as { wal_archive?: string } | undefined;
  switch (s.kind) {
    case 'delayed-replica': {
      v['source.dsn'] = safeDsn(s.dsn);
      const wal = archive?.wal_archive ?? (s.data_dir ? join(s.data_dir, 'pg_wal') : undefined);
      if (wal) v['source.wal'] = wal;
      break;
    }
    case 'pitr': {
      if (s.wal_archive) v['source.wal_archive'] = s.wal_archive;
      const dirs = await backupDirs(s.base_backups).catch(() => [] as string[]);
      const backups = await Promise.all(dirs.map((d) => readBaseBackup(d, 30_000)));
      const usable = backups.filter((b) => !b.problem && b.label);
      const chosen = o.set
        ? usable.find((b) => matchesSet(o.set!, b.dir, b.name))
        : usable.filter((b) => !o.before || (b.label!.startTime ?? '') < o.before).sort((a, b) => (a.label!.startTime ?? '').localeCompare(b.label!.startTime ?? '')).pop();
      if (o.set && !chosen) throw usageError('SET_UNKNOWN', `--set ${o.set}: no base backup with that name in ${s.base_backups}.`, `Found: ${usable.map((b) => b.name).join(', ') || 'none'}.`);
      if (chosen) {
        v.backup = chosen.dir;
        notes.push(`Base backup ${chosen.name} (${chosen.format}, started ${chosen.label!.startTime ?? 'at an unknown time'})${o.set ? ', pinned with --set' : ', the newest'}.`);
      }
      break;
    }
    case 'pgbackrest': {
      v['source.stanza'] = s.stanza;
      if (s.config) v['source.config'] = s.config;
      if (o.set) v.set = o.set;
      else {
        const r = await pgbackrestInfo({ stanza: s.stanza, config: s.config, repo: s.repo, timeoutMs: 60_000 }).catch(() => undefined);
        const st = r?.exitCode === 0 ? (() => { try { return parsePgbackrestInfo(r.stdout, s.stanza); } catch { return null; } })() : null;
        const set = st?.backups.filter((b) => !b.error && (!o.before || (b.stopTime ?? '') < o.before)).pop();
        if (set) {
          v.set = set.label;
          notes.push(`Backup set ${set.label} (stopped ${set.stopTime ?? '?'}), the newest${o.before ? ' before the target' : ''}.`);
        }
      }
      break;
    }
    case 'barman': {
      v['source.server'] = s.server;
      if (s.config) v['source.config'] = s.config;
      if (o.set) v.set = o.set;
      else {
        const { backups } = await barmanBackups({ server: s.server, config: s.config, timeoutMs: 60_000 }).catch(() => ({ backups: [] as BarmanBackup[] }));
        const b = backups
          .filter((x) => x.status === 'DONE' && (!o.before || (x.endTime ?? '') < o.before))
          .sort((x, y) => (x.beginTime ?? '').localeCompare(y.beginTime ?? ''))
          .pop();
        if (b) {
          v.set = b.id;
          notes.push(`Barman backup ${b.id} (ended ${b.endTime ?? '?'}), the newest DONE one${o.before ? ' before the target' : ''}.`);
        }
      }
      break;
    }
    case 'snapshot': {
      const found = await expandPatterns(s.paths).catch(() => [] as string[]);
      const snap = await newestFile(found, o.set, o.before, 'snapshot');
      if (snap) {
        v.snapshot = snap;
        notes.push(`Snapshot ${snap}${o.set ? ', pinned with --set' : ', the newest'}.`);
      }
      break;
    }
    case 'dump': {
      const found = await expandPatterns(s.paths).catch(() => [] as string[]);
      const dump = await newestFile(found, o.set, o.before, 'dump');
      if (dump) {
        v.dump = dump;
        notes.push(`Dump ${dump}${o.set ? ', pinned with --set' : ', the newest file (check that it is a dump: step "is it a dump at all")'}.`);
      }
      break;
    }
  }
  return v;
}

/** Everything a runbook's placeholders can be filled with. */
export async function gatherFacts(p: Playbook, o: FactOptions): Promise<Facts> {
  const notes: string[] = [];
  const schema = o.schema ?? defaultSideSchema();
  if (!SCHEMA_NAME.test(schema)) throw usageError('SCHEMA_INVALID', `--schema ${schema} is not a plain lower-case name.`, 'Use letters, digits and _ (for example recovered_shipments); the runbook uses it unquoted in shell commands.');
  const work = o.restoreDir ?? '/var/tmp/undrop-restore';
  if (/[\s'"$`\\]/.test(work)) throw usageError('RESTORE_DIR_INVALID', `--restore-dir ${work} has spaces or quotes.`, 'Choose a plain path; the runbook uses it unquoted in shell commands.');
  const values: Values = { os_user: serverOsUser(), work, socket: join(work, 'sock'), schema, ...tableValues(o.tables, schema) };
  if (p.data) values.data = join(work, p.data);
  values.port = String(o.port ?? (await findFreePort()));
  if (o.xid) values['target.xid'] = o.xid;
  const bin = await findBinaries().catch(() => undefined);
  if (bin) {
    values['pg.bin'] = bin.dir;
    values['pg.major'] = String(bin.major);
  }
  const inv = o.inventory;
  if (inv?.production.dsn) {
    values['production.dsn'] = safeDsn(inv.production.dsn);
    const db = resolveConnParams(inv.production.dsn).database;
    if (db) values.database = db;
  }
  const s = pickSource(inv, p.kind, o.source);
  if (s && inv) Object.assign(values, await sourceValues(s, o, inv, notes));
  return { values, source: s?.name ?? null, notes };
}

/** The lab's lost tables, when the inventory was written by `undrop lab up`. */
export async function labTables(inv: Inventory | undefined): Promise<string[] | undefined> {
  const state = inv?.lab?.state;
  if (typeof state !== 'string') return undefined;
  try {
    const doc = JSON.parse(await readFile(state, 'utf8')) as { tables?: unknown };
    return Array.isArray(doc.tables) ? doc.tables.filter((t): t is string => typeof t === 'string') : undefined;
  } catch {
    return undefined;
  }
}
