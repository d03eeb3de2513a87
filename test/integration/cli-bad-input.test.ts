// Bad input through the real CLI, no server needed: a missing config file,
// invalid YAML, an unknown source kind, --pg-bin pointing nowhere, an
// unreachable production. Each is one paragraph (message, details, HINT),
// the contract's exit code, and no stack trace; --json gets an error document.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, undrop } from '../cli.js';
import { testWorkDir } from '../helpers.js';

const root = mkdtempSync(join(testWorkDir(), 'bad-input-'));
chmodSync(root, 0o755); // the postgres OS user must reach the work dir when tests run as root
const work = join(root, 'work');
const dumps = join(root, 'dumps');
const NOWHERE_DSN = 'host=/tmp/nowhere port=1 dbname=shop user=app';

/** A small but complete plain-format dump of public.t (what pg_dump writes, trimmed). */
function plainDump(): string {
  const rows = Array.from({ length: 100 }, (_, i) => `${i + 1}\tname ${i + 1}`).join('\n');
  return [
    '--',
    '-- PostgreSQL database dump',
    '--',
    '',
    'SET statement_timeout = 0;',
    "SET client_encoding = 'UTF8';",
    '',
    'CREATE TABLE public.t (',
    '    id integer NOT NULL,',
    '    name text',
    ');',
    '',
    'COPY public.t (id, name) FROM stdin;',
    rows,
    '\\.',
    '',
    'ALTER TABLE ONLY public.t',
    '    ADD CONSTRAINT t_pkey PRIMARY KEY (id);',
    '',
    '--',
    '-- PostgreSQL database dump complete',
    '--',
    '',
  ].join('\n');
}

function config(name: string, text: string): string {
  const f = join(root, name);
  writeFileSync(f, text);
  return f;
}

const dumpInventory = (dsn: string) => `production:\n  dsn: "${dsn}"\nsources:\n  - name: nightly\n    kind: dump\n    paths: ["${dumps}/*.sql"]\n`;

/** One paragraph: the error line, optional detail lines, one HINT line; nothing else (no stack, no blank line inside). */
function expectOneParagraph(r: CliResult, code: string, exitCode: number): string {
  expect(r.exitCode, r.stderr).toBe(exitCode);
  expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  const start = r.stderr.indexOf(`undrop: error [${code}]`);
  expect(start, r.stderr).toBeGreaterThanOrEqual(0);
  const paragraph = r.stderr.slice(start).trimEnd();
  const lines = paragraph.split('\n');
  expect(lines.at(-1)).toMatch(/^HINT: \S/);
  expect(lines.filter((l) => l.startsWith('HINT:'))).toHaveLength(1);
  return paragraph;
}

beforeAll(() => {
  mkdirSync(dumps, { recursive: true });
  mkdirSync(work, { recursive: true });
  writeFileSync(join(dumps, 'nightly.sql'), plainDump());
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('bad input through the CLI', () => {
  it('a missing config file: exit 2, names the file, hints -c / UNDROP_CONFIG', async () => {
    const missing = join(root, 'no-such.yaml');
    const r = await undrop(['-c', missing, 'probe']);
    const p = expectOneParagraph(r, 'CONFIG_MISSING', 2);
    expect(p).toContain(missing);
    expect(p).toMatch(/HINT: .*-c FILE/);
    // the environment variable is honoured the same way
    const e = await undrop(['probe'], { env: { UNDROP_CONFIG: missing } });
    expect(expectOneParagraph(e, 'CONFIG_MISSING', 2)).toContain(missing);
    // and --json gets one error document on stdout
    const j = await undrop(['--json', '-c', missing, 'probe']);
    expect(j.exitCode).toBe(2);
    expect(JSON.parse(j.stdout).error).toMatchObject({ code: 'CONFIG_MISSING', exitCode: 2 });
  });

  it('invalid YAML: exit 2, says where (line, column)', async () => {
    const f = config('broken.yaml', 'production:\n  dsn: "host=x\nsources: [\n');
    const p = expectOneParagraph(await undrop(['-c', f, 'probe']), 'CONFIG_YAML', 2);
    expect(p).toContain(f);
    expect(p).toMatch(/line \d+, column \d+/);
  });

  it('an unknown source kind: exit 2, names the path and the known kinds', async () => {
    const f = config('kind.yaml', `production:\n  dsn: "${NOWHERE_DSN}"\nsources:\n  - name: tapes\n    kind: tape\n    paths: ["/x"]\n`);
    const p = expectOneParagraph(await undrop(['-c', f, 'probe']), 'CONFIG_INVALID', 2);
    expect(p).toContain('sources[0].kind');
    expect(p).toContain('"tape"');
    expect(p).toMatch(/pitr/);
  });

  it('--pg-bin pointing nowhere: exit 2 with the folder named, also when the command only probes a dump', async () => {
    const f = config('dump-for-pgbin.yaml', dumpInventory(NOWHERE_DSN));
    // recover needs initdb/pg_restore to materialize the dump
    const r = await undrop(['-c', f, '--pg-bin', '/nowhere/bin', '--work-dir', work, 'recover', '--tables', 't', '--source', 'nightly', '--target', 'latest', '--yes']);
    expect(expectOneParagraph(r, 'PG_BIN_INVALID', 2)).toContain('/nowhere/bin');
    // probe: a wrong flag is the user's mistake, not the dump's — no "best source" with exit 0
    const p = await undrop(['-c', f, '--pg-bin', '/nowhere/bin', 'probe']);
    expect(expectOneParagraph(p, 'PG_BIN_INVALID', 2)).toContain('/nowhere/bin');
  });

  it('an unreachable production: recover stops before any work, names the host, exit 1, HINT', async () => {
    const f = config('unreachable.yaml', dumpInventory(NOWHERE_DSN));
    const r = await undrop(['-c', f, '--work-dir', work, 'recover', '--tables', 't', '--source', 'nightly', '--target', 'latest', '--yes']);
    const p = expectOneParagraph(r, 'UNREACHABLE', 1);
    expect(p).toContain('/tmp/nowhere');
    expect(p).toContain('port 1');
    expect(p).toMatch(/HINT: .*pg_isready/);
    // before materializing: no temporary instance was started for nothing
    // before any long step (stated by the steps that ran, not by a wall-clock figure)
    expect(r.stderr).not.toContain('Extracting the tables');
    expect(r.stderr).not.toContain('Probing every source');
    // the default target (locate in WAL) does not hide the real problem either
    const d = await undrop(['-c', f, '--work-dir', work, 'recover', '--tables', 't', '--yes']);
    expect(expectOneParagraph(d, 'UNREACHABLE', 1)).toContain('/tmp/nowhere');
  });

  it('an unreachable production under --json: one error document on stdout', async () => {
    const f = config('unreachable-json.yaml', dumpInventory(NOWHERE_DSN));
    const r = await undrop(['--json', '-c', f, '--work-dir', work, 'recover', '--tables', 't', '--source', 'nightly', '--target', 'latest', '--yes']);
    expect(r.exitCode).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.error).toMatchObject({ code: 'UNREACHABLE', exitCode: 1 });
    expect(doc.error.message).toContain('/tmp/nowhere');
    expect(doc.error.hint).toBeTruthy();
  });
});
