// Does a libpq password file hold an entry for this connection? Only asked
// after a refused login that carried a password: libpq (and node-postgres)
// never read the file when a password is given, which surprises users whose
// right password is in ~/.pgpass while the DSN or PGPASSWORD holds an old one.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ConnParams } from './conninfo.js';

/** The password file libpq would read: PGPASSFILE, else ~/.pgpass. */
function pgpassFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.PGPASSFILE || join(env.HOME || homedir(), '.pgpass');
}

/** One line's five fields, with libpq's escapes (\: and \\). */
function fields(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === '\\' && i + 1 < line.length) cur += line[++i];
    else if (ch === ':') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** True when the file has a line matching host, port, database and user (`*` matches anything). Pure on its text. */
export function pgpassHasEntry(text: string, p: ConnParams): boolean {
  // libpq: a socket connection matches the host name "localhost"
  const host = !p.host || p.host.startsWith('/') ? 'localhost' : p.host;
  const want = [host, String(p.port ?? 5432), p.database ?? p.user ?? '', p.user ?? ''];
  return text.split('\n').some((raw) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return false;
    const f = fields(line);
    return f.length >= 5 && want.every((w, i) => f[i] === '*' || f[i] === w);
  });
}

/** Whether the password file libpq would read names this server and user (false when there is none). */
export function pgpassNames(p: ConnParams, env: NodeJS.ProcessEnv = process.env): { file: string; found: boolean } {
  const file = pgpassFile(env);
  try {
    return { file, found: pgpassHasEntry(readFileSync(file, 'utf8'), p) };
  } catch {
    return { file, found: false };
  }
}
