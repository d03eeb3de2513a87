// Pure pieces of isolation: the plain-dump meta-command scanner, DSN
// rendering without secrets, structured redaction, the configuration parser
// and the settings that must match, the work directory's default and checks.
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assertContained, copyDataDir } from '../../src/postgres/data-copy.js';
import { parseKeyValue, programEnv, resolveConnParams, safeDsn, toConninfo } from '../../src/postgres/conninfo.js';
import { mustMatchSettings, parseConf } from '../../src/postgres/server-config.js';
import { defaultWorkDirFor, ensurePrivateDir } from '../../src/postgres/work-dir.js';
import { metaScanner } from '../../src/sources/dump/plain-check.js';
import { tablespaceCreates } from '../../src/postgres/replay-guard.js';
import { redact, redactValue } from '../../src/util/redact.js';

function scan(text: string) {
  const s = metaScanner();
  for (const line of text.split('\n')) {
    const r = s(line);
    if (r) return r;
  }
  return undefined;
}

describe('plain dump meta-commands', () => {
  it('accepts what pg_dump writes: \\connect, \\restrict, COPY data with backslashes, quoted backslashes', () => {
    const dump = [
      '\\restrict abc123',
      'SET standard_conforming_strings = on;',
      '\\connect shipping',
      "INSERT INTO t VALUES ('a\\b', E'c\\'d\\\\', $$ \\! not a command $$, $f$x\\o y$f$);",
      'CREATE FUNCTION f() RETURNS text AS $_$',
      'select \'\\! inside a dollar quote\'',
      '$_$ LANGUAGE sql;',
      '/* \\! in a comment */ -- \\o also',
      'COPY public.t (a, b) FROM stdin;',
      '\\N\t\\!not a command in COPY data',
      '\\.',
      '\\unrestrict abc123',
    ].join('\n');
    expect(scan(dump)).toBeUndefined();
  });

  it('refuses \\! and \\o, naming the line', () => {
    expect(scan('SET x = 1;\n\\! rm -rf /\n')).toEqual({ line: 2, command: '\\!' });
    expect(scan("select 1; \\o /etc/passwd")).toEqual({ line: 1, command: '\\o' });
    expect(scan("select 'a';\n\\copy t from '/etc/shadow'")).toEqual({ line: 2, command: '\\copy' });
  });

  it('a COPY block ends at \\. only; a multi-line string keeps its state', () => {
    expect(scan("COPY t (a) FROM stdin;\n\\!x\n\\.\n\\! after")).toEqual({ line: 4, command: '\\!' });
    expect(scan("select 'line one\n\\! still in the string'; \\! now")).toEqual({ line: 2, command: '\\!' });
  });
});

describe('connection strings and secrets', () => {
  it('re-renders a DSN without its password (URI with encoded @ / # ?, key=value, sslpassword)', () => {
    const enc = encodeURIComponent('hu@nt/er#2?x');
    expect(safeDsn(`postgresql://app:${enc}@db1:5432/shop?sslmode=require&sslpassword=s3`)).toBe('postgresql://app@db1:5432/shop?sslmode=require');
    expect(safeDsn("host=db1 password='p w' sslpassword=zz dbname=shop")).toBe('host=db1 dbname=shop');
    expect(safeDsn('password hunter2 dbname=shop')).not.toContain('hunter2');
    expect(safeDsn('postgresql://app:hu@nt/er#2?x@db1/shop')).not.toMatch(/hu|nt|er|2\?x/);
  });

  it('a mistyped DSN is refused without quoting it', () => {
    expect(() => parseKeyValue('host=db1 password hunter2')).toThrow(expect.objectContaining({ code: 'DSN_INVALID', message: expect.not.stringContaining('hunter2') }));
    expect(() => resolveConnParams('postgresql://app:hu@nt/er@db1/shop', {})).toThrow(expect.objectContaining({ code: 'DSN_INVALID', message: expect.not.stringContaining('nt/er') }));
    expect(() => parseKeyValue('passwrd=hunter2')).toThrow(expect.objectContaining({ message: expect.not.stringContaining('hunter2') }));
  });

  it('sslpassword goes to a 0600 service file, never into the conninfo', () => {
    const p = resolveConnParams('host=db1 dbname=shop sslpassword=key-secret password=pw', {});
    expect(toConninfo(p)).not.toMatch(/key-secret|pw/);
    const env = programEnv(p);
    expect(env.PGPASSWORD).toBe('pw');
    expect(env.PGSERVICE).toBe('undrop');
    expect(env.PGSERVICEFILE).toMatch(/pg_service\.conf$/);
  });

  it('redacts URI passwords whole in text, and structured values before serialization', () => {
    expect(redact('could not connect postgresql://app:hu@nt/er#2?x@db1/shop now')).toBe('could not connect postgresql://app:***@db1/shop now');
    expect(redact('sslpassword=abc password=def')).toBe('sslpassword=*** password=***');
    const v = redactValue({ dsn: 'postgresql://a:b%40c@h/d', nested: [{ password: 'x"y' }], note: 'PGPASSWORD=zz', n: 1n });
    const json = JSON.stringify(v);
    expect(JSON.parse(json)).toEqual({ dsn: 'postgresql://a@h/d', nested: [{ password: '***' }], note: 'PGPASSWORD=***', n: '1' });
  });
});

describe('source configuration', () => {
  it('parses postgresql.conf lines (quotes, escapes, comments, include directives)', () => {
    const conf = "archive_cleanup_command = 'pg_archivecleanup /backups/wal %r'  # clean\nmax_connections 200\nshared_preload_libraries='pg_cron,it''s'\ninclude_dir 'conf.d'\n# port = 1\n";
    expect(parseConf(conf)).toEqual([
      { name: 'archive_cleanup_command', value: 'pg_archivecleanup /backups/wal %r' },
      { name: 'max_connections', value: '200' },
      { name: 'shared_preload_libraries', value: "pg_cron,it's" },
      { name: 'include_dir', value: 'conf.d' },
    ]);
  });

  it('settings that must be at least the source\'s come from pg_controldata', () => {
    const s = mustMatchSettings({ 'max_connections setting': '500', 'max_worker_processes setting': '4', 'max_wal_senders setting': '10', 'max_prepared_xacts setting': '7', 'max_locks_per_xact setting': '128', 'wal_level setting': 'logical', 'track_commit_timestamp setting': 'on' });
    expect(s).toEqual({ max_connections: 500, max_worker_processes: 8, max_wal_senders: 10, max_prepared_transactions: 7, max_locks_per_transaction: 128, wal_level: 'logical', track_commit_timestamp: true });
  });
});

describe('work directory', () => {
  it('defaults to the state directory ($UNDROP_WORK_DIR, $XDG_STATE_HOME/undrop, ~/.local/state/undrop; /var/lib/undrop as root)', () => {
    expect(defaultWorkDirFor({ UNDROP_WORK_DIR: '/w' }, false)).toBe('/w');
    expect(defaultWorkDirFor({ XDG_STATE_HOME: '/s' }, false)).toBe('/s/undrop');
    expect(defaultWorkDirFor({}, false)).toMatch(/\/\.local\/state\/undrop$/);
    expect(defaultWorkDirFor({}, true)).toBe('/var/lib/undrop');
  });

  it('creates 0700, refuses a symlink and a folder others can read', () => {
    const base = mkdtempSync(join(tmpdir(), 'wd-unit-'));
    const fresh = join(base, 'fresh');
    ensurePrivateDir(fresh, 0o700);
    const link = join(base, 'link');
    symlinkSync(fresh, link);
    expect(() => ensurePrivateDir(link, 0o700)).toThrow(expect.objectContaining({ code: 'WORK_DIR_UNSAFE' }));
    const open = join(base, 'open');
    mkdirSync(open);
    chmodSync(open, 0o755);
    expect(() => ensurePrivateDir(open, 0o700)).toThrow(/readable by other users \(mode 755\)/);
    chmodSync(open, 0o777);
    expect(() => ensurePrivateDir(open, 0o700, 0o022)).toThrow(/writable by other users \(mode 777\)/);
    rmSync(base, { recursive: true, force: true });
  });
});

describe('replay guard', () => {
  it('reads CREATE records of pg_waldump -r Tablespace', () => {
    const out = 'rmgr: Tablespace  len (rec/tot):     39/    39, tx:        750, lsn: 0/0B000110, prev 0/0B0000D8, desc: CREATE 16390 "/srv/pg ts/x"\nrmgr: Tablespace  len (rec/tot): 30/ 30, tx: 760, lsn: 0/0B000200, prev 0/0B000110, desc: DROP 16391\n';
    expect(tablespaceCreates(out)).toEqual([{ oid: '16390', path: '/srv/pg ts/x', lsn: '0/B000110' }]);
  });
});

describe('copies resolve inside their folder', () => {
  it('a linked data directory with pg_wal and a tablespace outside: copied in and relinked; the source keeps its links', async () => {
    const base = mkdtempSync(join(tmpdir(), 'copy-unit-'));
    const vol = join(base, 'data-volume');
    mkdirSync(join(vol, 'pg_tblspc'), { recursive: true });
    writeFileSync(join(vol, 'PG_VERSION'), '15\n');
    mkdirSync(join(base, 'wal-volume'));
    writeFileSync(join(base, 'wal-volume', '000000010000000000000001'), 'wal');
    symlinkSync(join(base, 'wal-volume'), join(vol, 'pg_wal'));
    mkdirSync(join(base, 'ts-volume', 'PG_15_x'), { recursive: true });
    writeFileSync(join(base, 'ts-volume', 'PG_15_x', 'f'), 'rel');
    symlinkSync(join(base, 'ts-volume'), join(vol, 'pg_tblspc', '16390'));
    symlinkSync(vol, join(base, 'pgdata'));
    const root = join(base, 'instance');
    mkdirSync(root);
    const rec = await copyDataDir(join(base, 'pgdata'), root);
    expect(rec).toMatchObject({ source: join(base, 'pgdata'), resolved: vol, walFrom: join(base, 'wal-volume'), tablespaces: [{ oid: '16390', from: join(base, 'ts-volume'), to: join(root, 'tablespaces', '16390') }] });
    expect(lstatSync(join(root, 'data', 'pg_wal')).isDirectory()).toBe(true);
    expect(readFileSync(join(root, 'data', 'pg_wal', '000000010000000000000001'), 'utf8')).toBe('wal');
    expect(readlinkSync(join(root, 'data', 'pg_tblspc', '16390'))).toBe(join(root, 'tablespaces', '16390'));
    await assertContained(join(root, 'data'), root);
    expect(readlinkSync(join(vol, 'pg_wal'))).toBe(join(base, 'wal-volume'));
    symlinkSync(join(root, 'data'), join(root, 'data', 'loop'));
    await assertContained(join(root, 'data'), root); // a link back up the tree is inside, and walked once
    // Anything else leading out is refused before a start.
    symlinkSync('/etc', join(root, 'data', 'base'));
    await expect(assertContained(join(root, 'data'), root)).rejects.toMatchObject({ code: 'COPY_NOT_CONTAINED' });
    expect(existsSync(join(vol, 'base'))).toBe(false);
    rmSync(base, { recursive: true, force: true });
  });
});
