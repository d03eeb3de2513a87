// Passwords never reach logs, reports or process titles. Structured values
// (timeline entries, report facts, JSON documents) go through redactValue()
// before they are serialized: secret keys are masked and connection strings
// re-rendered without their secrets. Free text (program output, messages)
// goes through redact().
import { SECRET_KEYS, safeDsn } from '../postgres/conninfo.js';

// Greedy to the last '@' of the token: a password holding @ / ? # is masked whole.
const URI_PASSWORD = /(postgres(?:ql)?:\/\/[^:/?#@\s]*:)(\S*)(@)/gi;
const KV_PASSWORD = /(\b(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s']+)/gi;
const ENV_PASSWORD = /(\bPGPASSWORD=)(\S+)/g;
const URI_QUERY_SECRET = /([?&](?:ssl)?password=)([^&\s]*)/gi;

export function redact(text: string): string {
  return text
    .replace(URI_PASSWORD, '$1***$3')
    .replace(URI_QUERY_SECRET, '$1***')
    .replace(KV_PASSWORD, '$1***')
    .replace(ENV_PASSWORD, '$1***');
}

const DSN_KEY = /^(dsn|conninfo|primary_conninfo|connection)$/i;

/** A deep copy with secrets masked: keys named like a secret, DSN-valued keys re-rendered, every string redacted. */
export function redactValue<T>(value: T): T {
  const walk = (v: unknown, key: string | undefined): unknown => {
    if (typeof v === 'string') {
      if (key && (SECRET_KEYS.has(key.toLowerCase()) || /^pgpassword$/i.test(key))) return '***';
      if (key && DSN_KEY.test(key)) return safeDsn(v);
      return redact(v);
    }
    if (typeof v === 'bigint') return v.toString();
    if (Array.isArray(v)) return v.map((x) => walk(x, undefined));
    if (v && typeof v === 'object' && !(v instanceof Date)) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x, k);
      return out;
    }
    return v;
  };
  return walk(value, undefined) as T;
}

/** Quote one argument for display as a shell command a DBA could paste. */
export function shellQuote(arg: string): string {
  if (arg === '') return "''";
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(program: string, args: readonly string[]): string {
  return [program, ...args].map(shellQuote).map(redact).join(' ');
}
