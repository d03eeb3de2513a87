import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { interruptedError, productionState } from '../../src/recovery/interrupt.js';
import { detachedSessionWarning } from '../../src/util/session.js';
import { tlsOptions } from '../../src/postgres/tls.js';
import { pgpassHasEntry } from '../../src/postgres/pgpass.js';
import { resolveConnParams, toConninfo } from '../../src/postgres/conninfo.js';
import { assertProductionSpace, describeCopyBackNeed, needOn } from '../../src/recovery/production-disk.js';
import { archivedWalFrom, describeNeed, marginFor, walBetween, walToSegmentEnd } from '../../src/sources/materialize/preflight.js';

describe('what a stopped run says about production', () => {
  const base = { startedAt: '2026-11-29T00:00:00Z' };
  it('nothing written before copy back; copy back running: rolled back', () => {
    expect(productionState(base, ['materialize'])).toBe('Production: nothing was changed.');
    expect(productionState(base, ['copy back', 'copy rows (COPY binary)'])).toMatch(/copy back transaction was not committed.*nothing was written/);
  });
  it('after copy back: the side schema is committed; a promote running is rolled back', () => {
    const f = { ...base, copyBack: { schema: 'undrop_x' } } as never;
    expect(productionState(f, [])).toBe('Production: the recovered tables were copied into side schema undrop_x (committed); nothing live was changed.');
    expect(productionState(f, ['promote (replace)'])).toMatch(/undrop_x \(committed\); the promote transaction was not committed/);
  });
  it('published but copy back not returned yet (source checksums, or a signal that waited for the COMMIT): the side schema is committed', () => {
    const f = { ...base, committed: [{ step: 'copy back' }, { step: 'copy back', schema: 'undrop_held' }] } as never;
    expect(productionState(f, ['copy back', 'publish (ALTER SCHEMA … RENAME)'])).toBe('Production: the recovered tables were copied into side schema undrop_held (committed); nothing live was changed.');
    // the loads' own COMMITs publish nothing: the run still stopped before its side schema existed
    expect(productionState({ ...base, committed: [{ step: 'copy back' }] } as never, ['copy back'])).toMatch(/copy back transaction was not committed/);
  });
  it('a promote whose COMMIT answered before its step returned: said as done, not as rolled back', () => {
    const f = { ...base, copyBack: { schema: 'undrop_x' }, committed: [{ step: 'promote (replace)' }] } as never;
    expect(productionState(f, ['promote (replace)'])).toBe('Production: the live tables were replaced (see the report).');
    expect(productionState({ ...base, committed: [{ step: 'promote (merge)' }] } as never, ['promote (merge)'])).toMatch(/merged into the live tables/);
  });
  it('SIGHUP is exit 129, the rest 130; the step chain is named', () => {
    expect(interruptedError('SIGHUP', base, ['copy back', 'copy rows (COPY binary)'], 'SIGHUP')).toMatchObject({ code: 'INTERRUPTED', exitCode: 129, message: expect.stringMatching(/^Stopped \(SIGHUP\) at step copy back › copy rows \(COPY binary\)\. Production:/) });
    expect(interruptedError('SIGTERM', base, [], 'SIGTERM').exitCode).toBe(130);
    expect(interruptedError('Ctrl-C at a question', base, []).message).toBe('Stopped (Ctrl-C at a question). Production: nothing was changed.');
  });
});

describe('SSH without tmux', () => {
  it('warns only on SSH outside tmux and screen', () => {
    expect(detachedSessionWarning({})).toBeUndefined();
    expect(detachedSessionWarning({ SSH_CONNECTION: 'a b c d' })).toMatch(/not inside tmux or screen/);
    expect(detachedSessionWarning({ SSH_CONNECTION: 'a b c d', TMUX: '/tmp/tmux-0/default,1,0' })).toBeUndefined();
    expect(detachedSessionWarning({ SSH_TTY: '/dev/pts/1', STY: '123.pts-1' })).toBeUndefined();
    expect(detachedSessionWarning({ SSH_TTY: '/dev/pts/1', TERM: 'screen-256color' })).toBeUndefined();
  });
});


describe('TLS like libpq for the copy connections', () => {
  const home = mkdtempSync(join(tmpdir(), 'tls-home-'));
  it('disable/prefer: none; require without a root certificate: encrypted, not verified', () => {
    expect(tlsOptions({ sslmode: 'prefer' }, {}, home)).toBeUndefined();
    expect(tlsOptions({}, {}, home)).toBeUndefined();
    expect(tlsOptions({ sslmode: 'require' }, {}, home)).toEqual({ rejectUnauthorized: false });
  });
  it('verify-ca without a root certificate: exit 2 naming where it looked', () => {
    expect(() => tlsOptions({ sslmode: 'verify-ca' }, {}, home)).toThrow(expect.objectContaining({ code: 'SSL_ROOT_CERT_MISSING', exitCode: 2 }));
  });
  it('sslrootcert, sslcert, sslkey from the DSN or PGSSL*, and ~/.postgresql defaults; verify-ca skips the host name, verify-full checks it', () => {
    mkdirSync(join(home, '.postgresql'));
    writeFileSync(join(home, '.postgresql', 'root.crt'), 'CA');
    writeFileSync(join(home, 'c.crt'), 'CERT');
    writeFileSync(join(home, 'c.key'), 'KEY');
    const ca = tlsOptions({ sslmode: 'verify-ca', extra: { sslcert: join(home, 'c.crt') } }, { PGSSLKEY: join(home, 'c.key') }, home)!;
    expect(ca).toMatchObject({ rejectUnauthorized: true, ca: Buffer.from('CA'), cert: Buffer.from('CERT'), key: Buffer.from('KEY') });
    expect(ca.checkServerIdentity).toBeTypeOf('function');
    const full = tlsOptions({ sslmode: 'verify-full' }, {}, home)!;
    expect(full.rejectUnauthorized).toBe(true);
    expect(full.checkServerIdentity).toBeUndefined();
    // require with a root certificate present: libpq verifies the chain
    expect(tlsOptions({ sslmode: 'require' }, {}, home)!.rejectUnauthorized).toBe(true);
  });
});

describe('libpq habits undrop follows', () => {
  it('no TLS on a Unix socket, whatever sslmode or PGSSLMODE says (undrop\'s private sockets keep working)', () => {
    expect(tlsOptions({ host: '/tmp/undrop-s-x', sslmode: 'verify-full' }, {})).toBeUndefined();
    expect(tlsOptions({ host: '/tmp/undrop-s-x' }, { PGSSLMODE: 'require' })).toBeUndefined();
  });
  it('.pgpass: host, port, database, user with * and escapes; a socket matches localhost; comments skipped', () => {
    const text = '# production\ndb1:5432:shop:app:pw\n*:6543:*:ops:p\\:w\nlocalhost:5432:postgres:postgres:x\n';
    expect(pgpassHasEntry(text, { host: 'db1', port: 5432, database: 'shop', user: 'app' })).toBe(true);
    expect(pgpassHasEntry(text, { host: 'db1', database: 'shop', user: 'app' })).toBe(true);
    expect(pgpassHasEntry(text, { host: 'db2', port: 5432, database: 'shop', user: 'app' })).toBe(false);
    expect(pgpassHasEntry(text, { host: 'db9', port: 6543, database: 'any', user: 'ops' })).toBe(true);
    expect(pgpassHasEntry(text, { host: '/var/run/postgresql', port: 5432, database: 'postgres', user: 'postgres' })).toBe(true);
    expect(pgpassHasEntry(text, { host: 'db1', port: 5432, database: 'shop', user: 'other' })).toBe(false);
  });
  it('PGSSLROOTCERT, PGSSLCERT and PGSSLKEY stay with the parameters (programs run with a clean environment get them); the DSN wins', () => {
    const p = resolveConnParams('host=db1 sslcert=/dsn/c.crt', { PGSSLROOTCERT: '/env/root.crt', PGSSLCERT: '/env/c.crt', PGSSLKEY: '/env/c.key' });
    expect(p.extra).toEqual({ sslrootcert: '/env/root.crt', sslcert: '/dsn/c.crt', sslkey: '/env/c.key' });
    expect(toConninfo(p)).toContain('sslrootcert=/env/root.crt');
  });
});


describe("production's disk before copy back", () => {
  const MB = 1024 * 1024;
  const disk = { path: '/pg/data', what: "production's data directory", free: 100 * MB, walSameFs: true, maxWalSize: 1024 * MB };
  it('WAL counts only on the same filesystem, at most max_wal_size; the requirement names its parts', () => {
    expect(needOn(disk, { data: 60 * MB, indexes: 20 * MB })).toEqual({ data: 60 * MB, indexes: 20 * MB, wal: 80 * MB });
    expect(needOn({ ...disk, maxWalSize: 32 * MB }, { data: 60 * MB, indexes: 20 * MB }).wal).toBe(32 * MB);
    expect(needOn({ ...disk, walSameFs: false }, { data: 60 * MB, indexes: 20 * MB }).wal).toBe(0);
    expect(needOn(undefined, { data: 1, indexes: 2 })).toEqual({ data: 1, indexes: 2, wal: 0 });
    expect(describeCopyBackNeed({ data: 60 * MB, indexes: 20 * MB, wal: 80 * MB })).toBe('160 MB (60 MB of table data + 20 MB of indexes + 80 MB of WAL on the same filesystem)');
  });
  it('refuses only when the disk is visible and too small; the WAL warning only when WAL counts', () => {
    expect(() => assertProductionSpace(undefined, { data: 1e12, indexes: 0, wal: 0 })).not.toThrow();
    expect(() => assertProductionSpace(disk, { data: 60 * MB, indexes: 20 * MB, wal: 0 })).not.toThrow();
    expect(() => assertProductionSpace(disk, { data: 60 * MB, indexes: 20 * MB, wal: 80 * MB })).toThrow(
      expect.objectContaining({
        code: 'PRODUCTION_DISK_SPACE',
        exitCode: 1,
        message: "Copy back writes about 160 MB (60 MB of table data + 20 MB of indexes + 80 MB of WAL on the same filesystem) into production, on the filesystem of /pg/data (production's data directory), but only 100 MB is free there (60 MB short). Nothing was written.",
        hint: 'Free space there first (a pg_wal that fills up stops PostgreSQL), or copy fewer tables per run (--tables).',
      }),
    );
  });
});

describe('the work directory during WAL replay', () => {
  it('the WAL to replay is the distance from the backup to the target, when both LSNs are known', () => {
    expect(walBetween('0/2000028', '0/15F3C090')).toBe(0x15f3c090 - 0x2000028);
    expect(walBetween('0/2000028', undefined)).toBeUndefined();
    expect(walBetween(null, '0/15F3C090')).toBeUndefined();
    expect(walBetween('0/3000000', '0/2000000')).toBeUndefined();
  });
  it('without a target LSN: the archive segments from the backup on (older ones and other files not counted)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'arch-'));
    for (const f of ['000000010000000000000001', '000000010000000000000002', '000000010000000000000003.gz', '00000002.history']) writeFileSync(join(dir, f), Buffer.alloc(f.endsWith('.gz') ? 10 : 100));
    expect(await archivedWalFrom(dir, '0/2000028')).toBe(110);
    expect(await archivedWalFrom(undefined, '0/2000028')).toBeUndefined();
  });
  it("pgBackRest without a target LSN: from the backup's end to the end of the repository's newest segment", () => {
    expect(walToSegmentEnd('0/2000100', '000000010000000000000003')).toBe(0x4000000 - 0x2000100);
    expect(walToSegmentEnd('0/2000100', null)).toBeUndefined();
    expect(walToSegmentEnd('0/5000000', '000000010000000000000003')).toBeUndefined();
  });
  it('the requirement names what it is made of', () => {
    const need = { data: 38 * 2 ** 20, wal: 319 * 2 ** 20 };
    expect(describeNeed(need, marginFor(need))).toBe('613 MB (38 MB of data written + 319 MB of WAL to replay + a 256 MB margin)');
  });
});
