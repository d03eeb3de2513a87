// Connection parameters the libpq way: a URI or a key=value string, then
// PGSERVICE (pg_service.conf), then PG* environment variables. Passwords not
// given come from ~/.pgpass / PGPASSFILE (node-postgres reads it itself).
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse as parseUri } from 'pg-connection-string';
import { usageError } from '../errors.js';

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
    if (!key || s[i] !== '=') {
      throw usageError('DSN_INVALID', `Connection string is not valid near "${s.slice(keyStart, keyStart + 20)}".`, 'Use a URI (postgresql://user@host:5432/db) or key=value pairs (host=db1 port=5432 dbname=shop).');
    }
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
        if (!Number.isInteger(n) || n <= 0 || n > 65535) throw usageError('DSN_INVALID', `Port "${v}" is not a valid port number.`, 'Use a number between 1 and 65535.');
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

function parseDsn(dsn: string): Record<string, string | undefined> {
  const trimmed = dsn.trim();
  if (/^postgres(ql)?:\/\//i.test(trimmed)) {
    let u: ReturnType<typeof parseUri>;
    try {
      u = parseUri(trimmed);
    } catch (e) {
      throw usageError('DSN_INVALID', `Connection URI is not valid: ${(e as Error).message}.`, 'Use postgresql://user@host:5432/dbname.');
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
  for (const [k, v] of Object.entries(p.extra ?? {})) parts.push([k, v]);
  return parts
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${quoteValue(String(v))}`)
    .join(' ');
}

/** Environment for a program connecting with these parameters (password kept out of argv). */
export function programEnv(p: ConnParams): Record<string, string> {
  return p.password ? { PGPASSWORD: p.password } : {};
}

/** "user app on db1:5432, database shop" — for messages; never the password. */
export function describe(p: ConnParams): string {
  const host = p.host ?? 'the default socket';
  const where = host.startsWith('/') ? `socket ${host}${p.port ? ` port ${p.port}` : ''}` : `${host}:${p.port ?? 5432}`;
  return `${where} as user ${p.user ?? '(default)'}, database ${p.database ?? '(default)'}`;
}
