// The usual places recovery sources live on a database host, for the guided
// inventory wizard: pg_basebackup folders, WAL archives, pgBackRest
// configuration, Barman, dump folders, snapshot mounts. Read-only; each find
// is only a proposal the person confirms.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface FoundSource {
  /** What the person is shown ("pg_basebackup folder /backups/base (3 backups)"). */
  description: string;
  /** The inventory entry (without its name) when undrop can use it. */
  source?: Record<string, unknown> & { kind: string };
  /** Why it cannot be added (a WAL archive without base backups). */
  note?: string;
}

export const USUAL_PLACES = ['/backups', '/var/backups/postgresql', '/var/lib/postgresql/backups', '/var/lib/pgbackrest', '/srv/backups', '/mnt/backups', '/mnt/snapshots', '/snapshots'];

const isDir = (p: string) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};
const list = (p: string) => {
  try {
    return readdirSync(p);
  } catch {
    return [];
  }
};

const isBaseBackup = (d: string) => !existsSync(join(d, 'postmaster.pid')) && (existsSync(join(d, 'backup_label')) || existsSync(join(d, 'backup_manifest')) || list(d).some((f) => /^base\.tar(\.gz|\.lz4|\.zst)?$/.test(f)));
const isWalArchive = (d: string) => list(d).filter((f) => /^[0-9A-F]{24}(\.gz|\.lz4|\.zst)?$/.test(f)).length >= 1;
// A running server's data directory (postmaster.pid) is not a snapshot.
const isDataDir = (d: string) => existsSync(join(d, 'PG_VERSION')) && existsSync(join(d, 'global')) && !existsSync(join(d, 'postmaster.pid')) && !existsSync(join(d, 'backup_label'));

/** What one folder holds (itself and one level down). Pure over the filesystem, read-only. */
export function classifyFolder(dir: string): FoundSource[] {
  if (!isDir(dir)) return [];
  const out: FoundSource[] = [];
  const subs = list(dir).map((f) => join(dir, f)).filter(isDir);
  const backups = subs.filter(isBaseBackup);
  if (isBaseBackup(dir)) out.push({ description: `a base backup in ${dir}`, source: { kind: 'pitr', base_backups: dir } });
  else if (backups.length) {
    // The archive sits inside the backup folder, or beside it (/backups/base + /backups/wal).
    const siblings = list(dirname(dir)).map((f) => join(dirname(dir), f)).filter((p) => p !== dir && isDir(p));
    const archive = [dir, ...subs, ...siblings].find(isWalArchive);
    out.push({ description: `pg_basebackup folder ${dir} (${backups.length} backup${backups.length > 1 ? 's' : ''})${archive ? ` with WAL archive ${archive}` : ''}`, source: { kind: 'pitr', base_backups: dir, ...(archive ? { wal_archive: archive } : {}) } });
  }
  for (const s of [dir, ...subs]) {
    if (isWalArchive(s) && !backups.length && !isBaseBackup(dir)) out.push({ description: `a WAL archive ${s} (add it with a base backup folder)`, note: 'a WAL archive alone restores nothing: undrop needs a base backup older than the incident' });
  }
  // A WAL archive's *.backup files are backup history, not dumps.
  const dumpFiles = (d: string) => list(d).filter((f) => /\.(dump|sql)$/.test(f));
  const dumps = [dir, ...subs].filter((d) => !isWalArchive(d) && dumpFiles(d).length);
  for (const d of dumps) out.push({ description: `dump folder ${d} (${dumpFiles(d).join(', ').slice(0, 80)})`, source: { kind: 'dump', paths: [join(d, '*.dump'), join(d, '*.sql')] } });
  for (const conf of [dir, ...subs].map((d) => join(d, 'pgbackrest.conf')).filter((f) => existsSync(f))) {
    for (const stanza of pgbackrestStanzas(conf)) out.push({ description: `pgBackRest stanza "${stanza}" in ${conf}`, source: { kind: 'pgbackrest', stanza, config: conf } });
  }
  const snaps = subs.filter((s) => isDataDir(join(s, 'pgdata')) || isDataDir(s));
  if (snaps.length) {
    const pattern = isDataDir(join(snaps[0]!, 'pgdata')) ? join(dir, '*', 'pgdata') : join(dir, '*');
    out.push({ description: `snapshot mounts ${pattern} (${snaps.length} data director${snaps.length > 1 ? 'ies' : 'y'})`, source: { kind: 'snapshot', paths: [pattern] } });
  }
  return out;
}

/** A folder and the folders in it (a backup root like /backups holding base/, wal/, dumps/), each find once. */
export function classifyTree(dir: string): FoundSource[] {
  const out: FoundSource[] = [];
  const seen = new Set<string>();
  for (const d of [dir, ...list(dir).map((f) => join(dir, f)).filter(isDir)]) {
    for (const f of classifyFolder(d)) {
      const key = JSON.stringify(f.source ?? f.description);
      if (f.source?.kind === 'pitr' || !seen.has(key)) out.push(f);
      seen.add(key);
    }
  }
  // A WAL archive found on its own is already attached to the base backups beside it.
  const attached = new Set(out.map((f) => f.source?.wal_archive).filter(Boolean));
  return out.filter((f) => !(f.note && [...attached].some((a) => f.description.includes(String(a)))));
}

/** pgBackRest stanzas of a configuration file. */
export function pgbackrestStanzas(conf: string): string[] {
  try {
    return [...readFileSync(conf, 'utf8').matchAll(/^\[([^\]:]+)\]\s*$/gm)].map((m) => m[1]!).filter((s) => s !== 'global');
  } catch {
    return [];
  }
}

/** Barman servers: every [section] but [barman] of Barman's configuration and its barman.d files. */
export function barmanServers(mainFiles: readonly string[] = ['/etc/barman.conf', '/etc/barman/barman.conf'], dirs: readonly string[] = ['/etc/barman.d', '/etc/barman/conf.d']): FoundSource[] {
  const main = mainFiles.find((f) => existsSync(f));
  const files = [...(main ? [main] : []), ...dirs.flatMap((d) => list(d).filter((f) => f.endsWith('.conf')).map((f) => join(d, f)))];
  const out: FoundSource[] = [];
  for (const f of files) {
    for (const server of pgbackrestStanzas(f).filter((s) => s !== 'barman')) {
      // A barman.d file is read through the main file (configuration_files_directory): name the main one.
      out.push({ description: `Barman server "${server}" in ${f}`, source: { kind: 'barman', server, ...(main ? { config: main } : {}) } });
    }
  }
  return out;
}

/** Scan the usual places (and `extra` folders the person named). */
export function scanUsualPlaces(extra: string[] = [], roots: string[] = USUAL_PLACES): FoundSource[] {
  const out: FoundSource[] = [];
  for (const conf of ['/etc/pgbackrest/pgbackrest.conf', '/etc/pgbackrest.conf']) {
    for (const stanza of pgbackrestStanzas(conf)) out.push({ description: `pgBackRest stanza "${stanza}" in ${conf}`, source: { kind: 'pgbackrest', stanza, config: conf } });
  }
  out.push(...barmanServers());
  for (const r of [...extra, ...roots]) out.push(...classifyTree(r));
  return out;
}
