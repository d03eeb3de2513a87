// A copy's configuration is replaced, never patched. The copied
// postgresql.conf, postgresql.auto.conf, pg_hba.conf, pg_ident.conf, the
// files they include from inside the data directory, and any other
// top-level link that is not part of a cluster's layout are moved to
// <root>/source-config (kept for the report, never read by the server).
// The instance then starts from a minimal configuration written by undrop
// (instance.ts: safe settings + recovery settings) plus the few settings
// that must be at least the source's (pg_controldata's "... setting" lines),
// the way pgBackRest and Barman write their own recovery settings instead of
// trusting what a restored cluster carried.
import { lstat, mkdir, readdir, readFile, rename } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { redactDsnValue } from './conninfo.js';

export interface DroppedSetting {
  name: string;
  /** Shown value: conninfo without its password. */
  value: string;
  file: string;
  /** Why it matters, for the settings that reach outside the copy. */
  danger?: string;
}

export interface SetAside {
  /** Where the source's configuration files now are. */
  dir: string;
  files: string[];
  dropped: DroppedSetting[];
  /** include directives that pointed outside the data directory (not copied, not read by the server). */
  outsideIncludes: string[];
}

const CONFIG_FILES = ['postgresql.conf', 'postgresql.auto.conf', 'pg_hba.conf', 'pg_ident.conf'];

/** Top-level entries of a data directory that the server needs; any other link is set aside. */
const LAYOUT = new Set([
  'PG_VERSION', 'base', 'global', 'pg_commit_ts', 'pg_dynshmem', 'pg_logical', 'pg_multixact', 'pg_notify', 'pg_replslot', 'pg_serial', 'pg_snapshots',
  'pg_stat', 'pg_stat_tmp', 'pg_subtrans', 'pg_tblspc', 'pg_twophase', 'pg_wal', 'pg_xact', 'backup_label', 'tablespace_map', 'backup_manifest',
]);

const DANGER: Record<string, string> = {
  archive_command: 'would archive the copy\'s WAL into the real archive',
  archive_library: 'would archive the copy\'s WAL into the real archive',
  archive_mode: 'would archive the copy\'s WAL',
  archive_cleanup_command: 'runs at every restartpoint and deletes from the archive it names',
  recovery_end_command: 'runs a command at the end of recovery',
  restore_command: 'replaced by undrop\'s own when the recovery needs one',
  primary_conninfo: 'would connect to production as a standby',
  primary_slot_name: 'would use production\'s replication slot',
  recovery_min_apply_delay: 'would stall the replay for the delay',
  synchronous_standby_names: 'the first COMMIT of a promoted copy would wait forever',
  shared_preload_libraries: 'extensions that act (job schedulers, logical replication workers) or are not installed here',
  data_directory: 'points the server at another data directory',
  hba_file: 'a file outside the copy',
  ident_file: 'a file outside the copy',
  external_pid_file: 'writes a file outside the copy',
  log_directory: 'writes logs outside the copy',
  ssl_cert_file: 'the host\'s certificate',
  ssl_key_file: 'the host\'s private key',
  ssl_ca_file: 'a file outside the copy',
  ssl_crl_file: 'a file outside the copy',
  ssl_crl_dir: 'a folder outside the copy',
  ssl_passphrase_command: 'runs a command',
  unix_socket_directories: 'production\'s socket directory',
  listen_addresses: 'production\'s network addresses',
  port: 'production\'s port',
  hot_standby_feedback: 'standby setting',
  include: 'reads a file outside the copy',
  include_dir: 'reads files outside the copy',
  include_if_exists: 'reads a file outside the copy',
};

export interface ConfLine {
  name: string;
  value: string;
}

/** postgresql.conf lines (`name = value`, `name value`, quoted values, # comments). */
export function parseConf(text: string): ConfLine[] {
  const out: ConfLine[] = [];
  for (const raw of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=?\s*(.*)$/.exec(raw);
    if (!m) continue;
    const name = m[1]!.toLowerCase();
    let rest = m[2]!;
    let value = '';
    if (rest.startsWith("'")) {
      let i = 1;
      while (i < rest.length) {
        const c = rest[i]!;
        if (c === '\\' && i + 1 < rest.length) {
          value += rest[i + 1];
          i += 2;
          continue;
        }
        if (c === "'") {
          if (rest[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          break;
        }
        value += c;
        i++;
      }
    } else {
      rest = rest.replace(/#.*$/, '').trim();
      value = rest.split(/\s+/)[0] ?? '';
    }
    out.push({ name, value });
  }
  return out;
}

function inside(root: string, p: string): boolean {
  const r = relative(root, p);
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
}

/** Move the copy's configuration aside (into `asideDir`) and list what it set. */
export async function setAsideConfig(dataDir: string, asideDir: string): Promise<SetAside> {
  const res: SetAside = { dir: asideDir, files: [], dropped: [], outsideIncludes: [] };
  await mkdir(asideDir, { recursive: true, mode: 0o700 });
  const seen = new Set<string>();
  const parseFile = async (file: string): Promise<void> => {
    if (seen.has(file)) return;
    seen.add(file);
    const st = await lstat(file).catch(() => undefined);
    // A link (postgresql.conf → /etc/…) is set aside as a link, never followed.
    if (!st || !st.isFile()) return;
    const text = await readFile(file, 'utf8').catch(() => '');
    const shown = relative(dataDir, file);
    for (const { name, value } of parseConf(text)) {
      if (name === 'include' || name === 'include_if_exists' || name === 'include_dir') {
        const target = resolve(dirname(file), value);
        if (!inside(dataDir, target)) res.outsideIncludes.push(`${name} '${value}' (in ${shown})`);
        else if (name === 'include_dir') {
          for (const f of (await readdir(target).catch(() => [] as string[])).filter((x) => x.endsWith('.conf')).sort()) await parseFile(join(target, f));
        } else await parseFile(target);
      }
      res.dropped.push({ name, value: redactDsnValue(name, value), file: shown, ...(DANGER[name] ? { danger: DANGER[name] } : {}) });
    }
  };
  for (const f of CONFIG_FILES) await parseFile(join(dataDir, f));
  // Move: the listed config files, the included files inside the data directory, stray top-level links.
  const toMove = new Set<string>([...CONFIG_FILES.map((f) => join(dataDir, f)), ...[...seen].filter((f) => inside(dataDir, f))]);
  for (const e of await readdir(dataDir, { withFileTypes: true })) {
    if (e.isSymbolicLink() && !LAYOUT.has(e.name)) toMove.add(join(dataDir, e.name));
  }
  for (const f of toMove) {
    if (!(await lstat(f).catch(() => undefined))) continue;
    const to = join(asideDir, relative(dataDir, f).replace(/\//g, '__'));
    await rename(f, to);
    res.files.push(relative(dataDir, f));
  }
  // An include_dir inside the data directory (conf.d) is left empty; remove nothing else.
  return res;
}

/** Settings a hot standby must have at least as high as the source (pg_controldata's "… setting" lines). */
export function mustMatchSettings(control: Record<string, string>): Record<string, string | number | boolean> {
  const num = (k: string, min: number) => Math.max(min, Number(control[k]) || 0);
  const out: Record<string, string | number | boolean> = {
    max_connections: num('max_connections setting', 100),
    max_worker_processes: num('max_worker_processes setting', 8),
    max_wal_senders: num('max_wal_senders setting', 0),
    max_prepared_transactions: num('max_prepared_xacts setting', 0),
    max_locks_per_transaction: num('max_locks_per_xact setting', 64),
    wal_level: control['wal_level setting'] === 'logical' ? 'logical' : 'replica',
  };
  if (control['track_commit_timestamp setting'] === 'on') out.track_commit_timestamp = true;
  return out;
}

export const ASIDE_NOTE = (s: SetAside) =>
  `The source's configuration (${s.files.join(', ') || 'none'}) was set aside in ${s.dir}; the temporary instance ran on undrop's own minimal configuration.` +
  (s.dropped.length ? ` Settings not used: ${[...new Set(s.dropped.map((d) => d.name))].join(', ')}.` : '') +
  (s.outsideIncludes.length ? ` Includes outside the data directory, not read: ${s.outsideIncludes.join('; ')}.` : '');
