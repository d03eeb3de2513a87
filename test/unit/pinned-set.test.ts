// --set against a probe's items (src/sources/materialize/choose.ts): which
// item a label names, and the refusal recover gives right after the probe
// (the one materialize gives too).
import { describe, expect, it } from 'vitest';
import { type UndropError } from '../../src/errors.js';
import { pinnedItem, pinnedProbeItem } from '../../src/sources/materialize/choose.js';
import type { ProbeItem, ProbeResult } from '../../src/sources/types.js';

const item = (label: string, o: Partial<ProbeItem> = {}): ProbeItem => ({ label, status: 'usable', recoveryPoint: null, findings: [], ...o });
const probe = (kind: ProbeResult['kind'], items: ProbeItem[]): ProbeResult => ({ name: 'src', kind, status: 'usable', recoveryPoint: null, tables: [], findings: [], items, durationMs: 0 });
const refusal = (f: () => unknown): UndropError => {
  try {
    f();
  } catch (e) {
    return e as UndropError;
  }
  throw new Error('not refused');
};
const names = (i: ProbeItem) => [i.label, i.path];

describe('which item --set names', () => {
  const snaps = ['/mnt/snaps/2026-11-24/pgdata', '/mnt/snaps/2026-11-25/pgdata'].map((p) => item(p, { path: p }));

  it('a snapshot by its folder, its last two folders or its whole path', () => {
    expect(pinnedItem(snaps, '2026-11-25', names, 'san').path).toBe('/mnt/snaps/2026-11-25/pgdata');
    expect(pinnedItem(snaps, '2026-11-25/pgdata', names, 'san').path).toBe('/mnt/snaps/2026-11-25/pgdata');
    expect(pinnedItem(snaps, '/mnt/snaps/2026-11-24/pgdata', names, 'san').path).toBe('/mnt/snaps/2026-11-24/pgdata');
  });

  it('a name several items share is refused (exit 2) naming them the way they can be told apart', () => {
    const e = refusal(() => pinnedItem(snaps, 'pgdata', names, 'san'));
    expect(e).toMatchObject({ code: 'SET_AMBIGUOUS', exitCode: 2 });
    expect(e.message).toContain('2026-11-24/pgdata, 2026-11-25/pgdata');
  });

  it('an unknown name: SET_UNKNOWN (exit 2), the known ones in the hint', () => {
    const e = refusal(() => pinnedItem(snaps, '2020-01-01', names, 'san'));
    expect(e).toMatchObject({ code: 'SET_UNKNOWN', exitCode: 2, hint: 'Known: 2026-11-24/pgdata, 2026-11-25/pgdata (`undrop probe` lists them).' });
    const backups = [item('b1', { path: '/backups/base/b1' }), item('b2', { path: '/backups/base/b2' })];
    expect(refusal(() => pinnedItem(backups, 'b3', names, 'wal')).hint).toBe('Known: b1, b2 (`undrop probe` lists them).');
  });

  it('two dumps of one file name in two folders: ambiguous by the name, each by its folder and name', () => {
    const dumps = ['/d/mon/x.dump', '/d/tue/x.dump'].map((p) => item('x.dump', { path: p }));
    expect(refusal(() => pinnedItem(dumps, 'x.dump', names, 'd')).message).toContain('(mon/x.dump, tue/x.dump)');
    expect(pinnedItem(dumps, 'tue/x.dump', names, 'd').path).toBe('/d/tue/x.dump');
  });

  it('a base backup or dump by its folder or file name; an exact label wins', () => {
    const backups = [item('b1', { path: '/backups/base/b1' }), item('b2', { path: '/backups/base/b2' })];
    expect(pinnedItem(backups, 'b2', names, 'wal').label).toBe('b2');
    expect(pinnedItem(backups, '/backups/base/b1/', names, 'wal').label).toBe('b1');
    expect(pinnedItem([item('x'), item('x.dump', { path: '/d/x' })], 'x', names, 'd').label).toBe('x');
  });
});

describe('the refusal of a pinned item, per source kind', () => {
  it('a Barman backup that is not DONE: BACKUP_NOT_DONE (exit 1), FAILED and WAITING_FOR_WALS alike', () => {
    const p = probe('barman', [
      item('20261125T010000', { backupStatus: 'DONE' }),
      item('20261125T020000', { backupStatus: 'FAILED', status: 'unusable', findings: [{ level: 'error', code: 'BACKUP_FAILED', message: 'Barman marked backup 20261125T020000 FAILED.' }] }),
      item('20261125T030000', { backupStatus: 'WAITING_FOR_WALS', status: 'degraded' }),
    ]);
    expect(pinnedProbeItem(p, '20261125T010000').label).toBe('20261125T010000');
    expect(refusal(() => pinnedProbeItem(p, '20261125T020000'))).toMatchObject({ code: 'BACKUP_NOT_DONE', exitCode: 1, message: 'Barman backup 20261125T020000 is FAILED, not DONE: it cannot be restored.' });
    expect(refusal(() => pinnedProbeItem(p, '20261125T030000'))).toMatchObject({ code: 'BACKUP_NOT_DONE', message: 'Barman backup 20261125T030000 is WAITING_FOR_WALS, not DONE: it cannot be restored.' });
  });

  it('an unusable base backup or pgBackRest set: BACKUP_UNUSABLE with the probe\'s reason; a dump: DUMP_INVALID', () => {
    const broken = { status: 'unusable' as const, findings: [{ level: 'info' as const, code: 'BACKUP', message: 'listed' }, { level: 'error' as const, code: 'BACKUP_ERROR', message: 'pgBackRest flagged page checksum errors in this backup.' }] };
    expect(refusal(() => pinnedProbeItem(probe('pgbackrest', [item('20261125-012803F', broken)]), '20261125-012803F'))).toMatchObject({
      code: 'BACKUP_UNUSABLE',
      exitCode: 1,
      message: 'pgBackRest backup 20261125-012803F (--set 20261125-012803F) cannot be used: pgBackRest flagged page checksum errors in this backup.',
    });
    expect(refusal(() => pinnedProbeItem(probe('pitr', [item('b2', { ...broken, path: '/backups/base/b2' })]), 'b2')).message).toMatch(/^Base backup \/backups\/base\/b2 \(--set b2\) cannot be used: /);
    expect(refusal(() => pinnedProbeItem(probe('dump', [item('x.dump', { ...broken, path: '/d/x.dump' })]), 'x.dump'))).toMatchObject({ code: 'DUMP_INVALID', exitCode: 1, hint: expect.stringMatching(/^Choose another dump with --set/) });
  });

  it('a degraded item is not refused (a warning is no reason to refuse what the person chose)', () => {
    expect(pinnedProbeItem(probe('dump', [item('x.dump', { status: 'degraded', path: '/d/x.dump' })]), 'x.dump').label).toBe('x.dump');
  });
});
