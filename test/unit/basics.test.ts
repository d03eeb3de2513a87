import { describe, expect, it } from 'vitest';
import { parseDuration, parseSize } from '../../src/inventory/units.js';
import { candidateDirs } from '../../src/postgres/binaries.js';
import { parseKeyValue, resolveConnParams, toConninfo } from '../../src/postgres/conninfo.js';
import { displayName, parseTableList, qualified } from '../../src/postgres/identifiers.js';
import { formatLsn, parseLsn } from '../../src/postgres/wal/lsn.js';
import { parseSegmentName, segmentForLsn, segmentName } from '../../src/postgres/wal/segments.js';
import { parseTargetSpec } from '../../src/sources/target.js';
import { commandLine, redact } from '../../src/util/redact.js';

describe('redaction', () => {
  it('hides passwords in URIs, key=value strings and environment assignments', () => {
    expect(redact('postgresql://app:s3cr3t@db1:5432/shop')).toBe('postgresql://app:***@db1:5432/shop');
    expect(redact("host=db1 password='a b c' user=x")).toBe('host=db1 password=*** user=x');
    expect(redact('host=db1 password=hunter2 user=x')).toBe('host=db1 password=*** user=x');
    expect(redact('PGPASSWORD=hunter2 pg_dump')).toBe('PGPASSWORD=*** pg_dump');
    expect(redact('postgresql://app@db1/shop')).toBe('postgresql://app@db1/shop');
  });
  it('redacts command lines shown to the user', () => {
    expect(commandLine('pg_dump', ['-d', 'host=x password=pw dbname=shop'])).toBe("pg_dump -d 'host=x password=*** dbname=shop'");
  });
});

describe('PostgreSQL program discovery order', () => {
  it('tries --pg-bin, pg_config, Debian, RHEL, then PATH', () => {
    expect(candidateDirs({ pgBin: '/opt/pg/bin', pgConfigBindir: '/usr/lib/postgresql/15/bin', pathEnv: '/usr/local/bin:/usr/bin' }, 16)).toEqual([
      '/opt/pg/bin',
      '/usr/lib/postgresql/15/bin',
      '/usr/lib/postgresql/16/bin',
      '/usr/pgsql-16/bin',
      '/usr/local/bin',
      '/usr/bin',
    ]);
  });
  it('lists installed majors newest first when no version is required', () => {
    expect(candidateDirs({ debianMajors: [13, 16, 15], rhelMajors: [14], pathEnv: '' })).toEqual([
      '/usr/lib/postgresql/16/bin',
      '/usr/lib/postgresql/15/bin',
      '/usr/lib/postgresql/13/bin',
      '/usr/pgsql-14/bin',
    ]);
  });
});

describe('connection strings', () => {
  it('parses key=value with quotes and escapes', () => {
    expect(parseKeyValue("host=/tmp port=5432 dbname='my db' password='it\\'s'")).toEqual({ host: '/tmp', port: '5432', dbname: 'my db', password: "it's" });
  });
  it('lets the DSN win over PG* environment variables', () => {
    const p = resolveConnParams('postgresql://app@db1:5433/shop', { PGHOST: 'other', PGUSER: 'u', PGPASSWORD: 'pw', PGDATABASE: 'x' });
    expect(p).toMatchObject({ host: 'db1', port: 5433, user: 'app', database: 'shop', password: 'pw' });
  });
  it('uses PG* environment when no DSN is given', () => {
    expect(resolveConnParams(undefined, { PGHOST: '/var/run/postgresql', PGPORT: '5432', PGDATABASE: 'shop' })).toMatchObject({ host: '/var/run/postgresql', port: 5432, database: 'shop' });
  });
  it('keeps the password out of conninfo for programs', () => {
    const info = toConninfo({ host: 'db1', port: 5432, user: 'app', password: 'pw', database: 'my db' });
    expect(info).toBe("host=db1 port=5432 user=app dbname='my db' application_name=undrop connect_timeout=10");
  });
  it('rejects a malformed DSN with a usage error', () => {
    expect(() => resolveConnParams('host=db1 port', {})).toThrow(/not valid/);
    expect(() => resolveConnParams('port=99999', {})).toThrow(/not a valid port/);
  });
});

describe('table names', () => {
  it('parses SQL spelling: quoted, qualified, folded', () => {
    expect(parseTableList('Shipments, public.invoices,"Sales"."Order Items", "a,b"')).toEqual([
      { name: 'shipments' },
      { schema: 'public', name: 'invoices' },
      { schema: 'Sales', name: 'Order Items' },
      { name: 'a,b' },
    ]);
  });
  it('quotes identifiers safely', () => {
    expect(qualified({ name: 'we"ird;name' })).toBe('"public"."we""ird;name"');
    expect(displayName({ schema: 'Sales', name: 'orders' })).toBe('"Sales".orders');
  });
  it('rejects nonsense', () => {
    expect(() => parseTableList('a.b.c.d')).toThrow(/parts/);
    expect(() => parseTableList('"open')).toThrow(/unterminated/);
    expect(() => parseTableList('drop table x;')).toThrow();
  });
});

describe('LSN and segments', () => {
  it('round-trips LSNs and maps them to segments', () => {
    expect(formatLsn(parseLsn('0/16636A70'))).toBe('0/16636A70');
    expect(segmentForLsn(1, '0/16636A70')).toBe('000000010000000000000016');
    expect(segmentForLsn(2, '1/0')).toBe('000000020000000100000000');
    const s = parseSegmentName('000000010000000100000003');
    expect(s).toEqual({ timeline: 1, segno: 256n + 3n });
    expect(segmentName(1, s.segno)).toBe('000000010000000100000003');
  });
});

describe('units and targets', () => {
  it('parses durations and sizes', () => {
    expect(parseDuration('26h')).toBe(26 * 3600_000);
    expect(parseDuration('90min')).toBe(90 * 60_000);
    expect(parseDuration('soon')).toBeUndefined();
    expect(parseSize('1GB')).toBe(1024 ** 3); // PostgreSQL's meaning
    expect(parseSize('500MB')).toBe(500 * 1024 ** 2);
    expect(parseSize('512 MiB')).toBe(512 * 1024 * 1024);
  });
  it('parses --target specs', () => {
    expect(parseTargetSpec(undefined)).toEqual({ kind: 'before-incident' });
    expect(parseTargetSpec('xid:29519')).toEqual({ kind: 'xid', xid: '29519' });
    expect(parseTargetSpec('lsn:0/16636a70')).toEqual({ kind: 'lsn', lsn: '0/16636A70' });
    expect(parseTargetSpec('time:2026-11-25T01:42:48Z')).toEqual({ kind: 'time', time: '2026-11-25T01:42:48.000Z' });
    expect(() => parseTargetSpec('yesterday')).toThrow(/not a recovery target/);
  });
});
