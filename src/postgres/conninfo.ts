// Connection parameters the libpq way: a URI or a key=value string, then
// PGSERVICE (pg_service.conf), then PG* environment variables. Passwords not
// given come from ~/.pgpass / PGPASSFILE (node-postgres reads it itself).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseUri } from 'pg-connection-string';
import { usageError } from '../errors.js';
import { registerCleanup } from './cleanup.js';

export interface ConnParams {
  host?: string;
  port?: number;
  user?: string;
  database?: string;
  password?: string;
  sslmode?: string;
  application_name?: string;
  connect_timeout?: number;
  /** Any other libpq keyword, passed on to libpq programs as is. */
  extra?: Record<string, string>;
}

const KNOWN = new Set(['host', 'hostaddr', 'port', 'user', 'dbname', 'password', 'sslmode', 'application_name', 'connect_timeout', 'service']);

/** libpq's connection keywords: anything else is a typo (and could be a password typed in the wrong place). */
const LIBPQ_KEYWORDS = new Set([
  ...KNOWN, 'passfile', 'channel_binding', 'client_encoding', 'options', 'fallback_application_name', 'keepalives', 'keepalives_idle', 'keepalives_interval',
  'keepalives_count', 'tcp_user_timeout', 'replication', 'gssencmode', 'requiressl', 'sslcompression', 'sslcert', 'sslkey', 'sslpassword', 'sslrootcert', 'sslcrl',
  'sslcrldir', 'sslsni', 'requirepeer', 'ssl_min_protocol_version', 'ssl_max_protocol_version', 'krbsrvname', 'gsslib', 'gssdelegation', 'target_session_attrs',
  'load_balance_hosts', 'sslcertmode', 'require_auth', 'database',
]);

/** Keywords whose values are secrets: never on a command line, never shown. */
export const SECRET_KEYS = new Set(['password', 'sslpassword']);

const KV_HINT = 'Use a URI (postgresql://user@host:5432/db) or key=value pairs (host=db1 port=5432 dbname=shop); the password is best kept in ~/.pgpass or PGPASSWORD.';

/** Parse libpq key=value conninfo (`host=/tmp port=5432 dbname='my db'`). */
export function parseKeyValue(dsn: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  const s = dsn;
  const skipWs = () => {
    while (i < s.length && /\s/.test(s[i]!)) i++;
  };
  while (true) {
    skipWs();
    if (i >= s.length) break;
    const keyStart = i;
    while (i < s.length && /[A-Za-z0-9_]/.test(s[i]!)) i++;
    const key = s.slice(keyStart, i);
    skipWs();
    // Never quote the text back: a mistyped DSN may carry a password.
    if (!key || s[i] !== '=') {
      throw usageError('DSN_INVALID', `Connection string is not valid: expected keyword=value at character ${keyStart + 1}.`, KV_HINT);
    }
    if (!LIBPQ_KEYWORDS.has(key)) throw usageError('DSN_INVALID', `Connection string is not valid: the keyword at character ${keyStart + 1} is not a libpq connection keyword.`, KV_HINT);
    i++;
    skipWs();
    let value = '';
    if (s[i] === "'") {
      i++;
      while (i < s.length && s[i] !== "'") {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        value += s[i];
        i++;
      }
      if (s[i] !== "'") throw usageError('DSN_INVALID', 'Connection string has an unterminated quoted value.', "Close the quote: dbname='my db'.");
      i++;
    } else {
      while (i < s.length && !/\s/.test(s[i]!)) {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        value += s[i];
        i++;
      }
    }
    out[key] = value;
  }
  return out;
}

function fromRecord(rec: Record<string, string | undefined>): ConnParams {
  const p: ConnParams = {};
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(rec)) {
    if (v === undefined || v === '') continue;
    switch (k) {
      case 'host':
      case 'hostaddr':
        p.host = v;
        break;
      case 'port': {
        const n = Number(v);
        if (!Number.isInteger(n) || n <= 0 || n > 65535) throw usageError('DSN_INVALID', 'The port in the connection string is not a valid port number.', 'Use a number between 1 and 65535.');
        p.port = n;
        break;
      }
      case 'user':
        p.user = v;
        break;
      case 'dbname':
      case 'database':
        p.database = v;
        break;
      case 'password':
        p.password = v;
        break;
      case 'sslmode':
        p.sslmode = v;
        break;
      case 'application_name':
        p.application_name = v;
        break;
      case 'connect_timeout':
        p.connect_timeout = Number(v);
        break;
      case 'service':
        break;
      default:
        if (!KNOWN.has(k)) extra[k] = v;
    }
  }
  if (Object.keys(extra).length) p.extra = extra;
  return p;
}

const URI_HINT = 'Use postgresql://user@host:5432/dbname; percent-encode @ / ? # : in a password (%40 %2F %3F %23 %3A), or keep it in ~/.pgpass or PGPASSWORD.';

/** An '@' after the authority means a password with unencoded / ? # or a second '@': libpq would read another host. */
function assertUriEncoded(uri: string): void {
  const rest = uri.replace(/^postgres(ql)?:\/\//i, '');
  const at = rest.lastIndexOf('@');
  if (at < 0) return;
  const userinfo = rest.slice(0, at);
  if (/[/?#@]/.test(userinfo)) throw usageError('DSN_INVALID', 'Connection URI is not valid: its user or password part holds an unencoded @, /, ? or #.', URI_HINT);
}

function parseDsn(dsn: string): Record<string, string | undefined> {
  const trimmed = dsn.trim();
  if (/^postgres(ql)?:\/\//i.test(trimmed)) {
    assertUriEncoded(trimmed);
    let u: ReturnType<typeof parseUri>;
    try {
      u = parseUri(trimmed);
    } catch {
      throw usageError('DSN_INVALID', 'Connection URI is not valid.', URI_HINT);
    }
    const rec: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(u)) {
      if (v === null || v === undefined || typeof v === 'object') continue;
      rec[k === 'database' ? 'dbname' : k] = String(v);
    }
    return rec;
  }
  if (trimmed === '') return {};
  return parseKeyValue(trimmed);
}

/** Read a section of pg_service.conf (PGSERVICEFILE, ~/.pg_service.conf, PGSYSCONFDIR/pg_service.conf). */
export function readService(name: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const files = [env.PGSERVICEFILE, join(homedir(), '.pg_service.conf'), env.PGSYSCONFDIR ? join(env.PGSYSCONFDIR, 'pg_service.conf') : '/etc/postgresql-common/pg_service.conf'];
  for (const f of files) {
    if (!f) continue;
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    let current: string | undefined;
    const out: Record<string, string> = {};
    let found = false;
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (!line || line.startsWith('#')) continue;
      const sec = /^\[(.+)\]$/.exec(line);
      if (sec) {
        current = sec[1];
        if (current === name) found = true;
        continue;
      }
      if (current !== name) continue;
      const eq = line.indexOf('=');
      if (eq > 0) out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
    }
    if (found) return out;
  }
  throw usageError('SERVICE_UNKNOWN', `Connection service "${name}" is not defined in any pg_service.conf.`, 'Define it in ~/.pg_service.conf or PGSERVICEFILE, or give a full connection string.');
}

/** Resolve a DSN the libpq way: DSN first, then service, then PG* environment. */
export function resolveConnParams(dsn: string | undefined, env: NodeJS.ProcessEnv = process.env): ConnParams {
  const fromDsn = dsn ? parseDsn(dsn) : {};
  const service = fromDsn.service ?? env.PGSERVICE;
  const fromService = service ? readService(service, env) : {};
  const fromEnv: Record<string, string | undefined> = {
    host: env.PGHOST,
    port: env.PGPORT,
    user: env.PGUSER,
    dbname: env.PGDATABASE,
    password: env.PGPASSWORD,
    sslmode: env.PGSSLMODE,
    application_name: env.PGAPPNAME,
    connect_timeout: env.PGCONNECT_TIMEOUT,
    // TLS files: kept with the parameters, so programs started with a clean environment get them too.
    sslrootcert: env.PGSSLROOTCERT,
    sslcert: env.PGSSLCERT,
    sslkey: env.PGSSLKEY,
    sslcrl: env.PGSSLCRL,
  };
  const merged = { ...clean(fromEnv), ...clean(fromService), ...clean(fromDsn) };
  return fromRecord(merged);
}

function clean(r: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r)) if (v !== undefined && v !== '') out[k] = v;
  return out;
}

function quoteValue(v: string): string {
  return /^[^\s'\\]+$/.test(v) ? v : `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** libpq conninfo for PostgreSQL programs; the password goes in PGPASSWORD, never in argv. */
export function toConninfo(p: ConnParams, database?: string): string {
  const parts: [string, string | number | undefined][] = [
    ['host', p.host],
    ['port', p.port],
    ['user', p.user],
    ['dbname', database ?? p.database],
    ['sslmode', p.sslmode],
    ['application_name', p.application_name ?? 'undrop'],
    ['connect_timeout', p.connect_timeout ?? 10],
  ];
  for (const [k, v] of Object.entries(p.extra ?? {})) if (!SECRET_KEYS.has(k)) parts.push([k, v]);
  return parts
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${quoteValue(String(v))}`)
    .join(' ');
}

const serviceFiles = new Map<string, string>();

/**
 * A 0600 pg_service.conf holding the secrets libpq has no environment
 * variable for (sslpassword), in a 0700 folder removed at exit.
 */
function secretServiceFile(secrets: Record<string, string>): string {
  const body = `[undrop]\n${Object.entries(secrets).map(([k, v]) => `${k}=${v}`).join('\n')}\n`;
  const known = serviceFiles.get(body);
  if (known) return known;
  const dir = mkdtempSync(join(tmpdir(), 'undrop-pw-'));
  const file = join(dir, 'pg_service.conf');
  writeFileSync(file, body, { mode: 0o600 });
  serviceFiles.set(body, file);
  const remove = () => rmSync(dir, { recursive: true, force: true });
  registerCleanup({ label: `password file ${file}`, run: async () => remove(), runSync: remove });
  return file;
}

/**
 * Environment for one program connecting with these parameters: the
 * password in PGPASSWORD, other secrets in a private service file, never in
 * argv; PGPASSFILE passed on when the user set one (a path, not a secret).
 */
export function programEnv(p: ConnParams): Record<string, string> {
  const env: Record<string, string> = {};
  if (p.password) env.PGPASSWORD = p.password;
  const secrets = Object.fromEntries(Object.entries(p.extra ?? {}).filter(([k]) => SECRET_KEYS.has(k)));
  if (Object.keys(secrets).length) {
    env.PGSERVICEFILE = secretServiceFile(secrets);
    env.PGSERVICE = 'undrop';
  }
  if (process.env.PGPASSFILE) env.PGPASSFILE = process.env.PGPASSFILE;
  return env;
}

/**
 * The DSN as it may be shown and pasted: re-rendered from its parsed parts
 * without password or other secrets. Never echoes a DSN it cannot parse.
 */
export function safeDsn(dsn: string | undefined): string {
  if (!dsn) return '';
  const trimmed = dsn.trim();
  try {
    if (/^postgres(ql)?:\/\//i.test(trimmed)) {
      assertUriEncoded(trimmed);
      const u = new URL(trimmed.replace(/^postgres(ql)?:/i, 'http:'));
      const scheme = /^postgresql:/i.test(trimmed) ? 'postgresql' : 'postgres';
      for (const k of SECRET_KEYS) u.searchParams.delete(k);
      const user = u.username ? `${u.username}@` : '';
      const query = u.searchParams.toString();
      return `${scheme}://${user}${u.host}${u.pathname === '/' ? '' : u.pathname}${query ? `?${query}` : ''}`;
    }
    const kv = parseKeyValue(trimmed);
    return Object.entries(kv)
      .filter(([k]) => !SECRET_KEYS.has(k))
      .map(([k, v]) => `${k}=${quoteValue(v)}`)
      .join(' ');
  } catch {
    return '(connection string not shown: it could not be parsed)';
  }
}

/** A configuration value shown in a report: conninfo settings without their secrets. */
export function redactDsnValue(name: string, value: string): string {
  return /conninfo|dsn/i.test(name) && value ? safeDsn(value) : SECRET_KEYS.has(name) ? '***' : value;
}

/** "user app on db1:5432, database shop" — for messages; never the password. */
export function describe(p: ConnParams): string {
  const host = p.host ?? 'the default socket';
  const where = host.startsWith('/') ? `socket ${host}${p.port ? ` port ${p.port}` : ''}` : `${host}:${p.port ?? 5432}`;
  return `${where} as user ${p.user ?? '(default)'}, database ${p.database ?? '(default)'}`;
}
