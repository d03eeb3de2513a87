// Barman's JSON output (3.4, as `barman -f json …` prints it) parsed, and the backup chosen for a target.
import { describe, expect, it } from 'vitest';
import { chooseBackup, parseBackupList, parseCheck, parseShowBackup, parseShowServer } from '../../src/sources/barman/catalog.js';
import { barmanTarget } from '../../src/sources/barman/materialize.js';
import { parseScenario } from '../../src/lab/scenarios.js';
import { barmanServers } from '../../src/inventory/scan.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LIST = JSON.stringify({
  lab: [
    { backup_id: '20261129T194553', status: 'FAILED' },
    { backup_id: '20261129T194534', end_time: 'Sun Nov 29 19:45:35 2026', end_time_timestamp: '1795981535', retention_status: '-', size: '38.1 MiB', size_bytes: 39907206, status: 'DONE', tablespaces: [], wal_size: '16.0 MiB', wal_size_bytes: 16777216 },
  ],
});
const show = (id: string, status: string, begin: string, end: string, endTs: number) =>
  JSON.stringify({
    lab: {
      backup_id: id,
      status,
      base_backup_information: { begin_lsn: begin, end_lsn: end, begin_wal: '000000010000000000000003', end_wal: '000000010000000000000003', begin_time: '2026-11-29 19:45:34.447230+00:00', begin_time_timestamp: String(endTs - 1), end_time_timestamp: String(endTs), disk_usage_bytes: 23129990, timeline: 1 },
    },
  });

describe('Barman catalog', () => {
  it('list-backups: ids and statuses, FAILED ones included', () => {
    expect(parseBackupList(LIST, 'lab')).toEqual([
      { id: '20261129T194553', status: 'FAILED', endTime: null, sizeBytes: null, tablespaces: [] },
      { id: '20261129T194534', status: 'DONE', endTime: '2026-11-29T19:45:35.000Z', sizeBytes: 39907206, tablespaces: [] },
    ]);
    expect(parseBackupList(LIST, 'other')).toEqual([]);
    expect(() => parseBackupList('ERROR: Unknown server', 'lab')).toThrow();
  });

  it('show-backup: LSNs, WAL, times, size', () => {
    const b = parseShowBackup(show('A', 'DONE', '0/3000028', '0/4000000', 1795981535), 'lab')!;
    expect(b).toMatchObject({ id: 'A', status: 'DONE', beginLsn: '0/3000028', endLsn: '0/4000000', endWal: '000000010000000000000003', timeline: 1, sizeBytes: 23129990, endTime: '2026-11-29T19:45:35.000Z', tablespaces: [] });
  });

  it('show-backup: tablespaces, which barman recover would write back to their original locations (materialize refuses them)', () => {
    const doc = JSON.parse(show('T', 'DONE', '0/3000028', '0/4000000', 1795981535));
    doc.lab.tablespaces = [{ name: 'fast', location: '/srv/pg/fast', oid: 16390 }];
    expect(parseShowBackup(JSON.stringify(doc), 'lab')!.tablespaces).toEqual([{ name: 'fast', location: '/srv/pg/fast' }]);
  });

  it('check: only the failing checks, with their hints', () => {
    const doc = JSON.stringify({ lab: { postgresql: { hint: '', status: 'OK' }, receive_wal_running: { hint: 'See the Barman log file for more details', status: 'FAILED' } } });
    expect(parseCheck(doc, 'lab')).toEqual([{ check: 'receive wal running', hint: 'See the Barman log file for more details' }]);
  });

  it('show-server: the WAL and base backup folders', () => {
    expect(parseShowServer(JSON.stringify({ lab: { wals_directory: '/b/lab/wals', basebackups_directory: '/b/lab/base' } }), 'lab')).toEqual({ walsDirectory: '/b/lab/wals', basebackupsDirectory: '/b/lab/base' });
  });

  it('chooses the newest DONE backup that ends before the target, never a FAILED one', () => {
    const older = parseShowBackup(show('old', 'DONE', '0/3000028', '0/4000000', 1795981535), 'lab')!;
    const newer = parseShowBackup(show('new', 'DONE', '0/9000028', '0/A000000', 1795981935), 'lab')!;
    const failed = parseShowBackup(show('bad', 'FAILED', '0/7000028', '0/8000000', 1795981735), 'lab')!;
    const t = (lsn: string) => ({ kind: 'xid' as const, xid: '900', firstLsn: lsn, inclusive: false as const, origin: 'test' });
    expect(chooseBackup([older, failed, newer], t('0/9500000'))?.id).toBe('old');
    expect(chooseBackup([older, failed, newer], t('0/B000000'))?.id).toBe('new');
    expect(chooseBackup([older, failed, newer], t('0/3500000'))).toBeUndefined();
    expect(chooseBackup([older, failed, newer], { kind: 'latest', inclusive: false, origin: 'test' })?.id).toBe('new');
  });

  it('targets: barman recover flags from a resolved target', () => {
    expect(barmanTarget({ kind: 'xid', xid: '837', commitLsn: '0/70726D0', inclusive: false, origin: 'locate' })).toEqual({ type: 'xid', value: '837' });
    expect(barmanTarget({ kind: 'lsn', commitLsn: '0/70726D0', inclusive: false, origin: 't', timeline: '1' })).toEqual({ type: 'lsn', value: '0/70726D0', timeline: '1' });
    expect(barmanTarget({ kind: 'latest', inclusive: false, origin: 't' })).toBeUndefined();
  });

  it('a scenario may plant a WAL gap in Barman only when it has Barman', () => {
    const base = { name: 'x', title: 't', briefing: 'b', replica_delay: '0', components: { archive: false, base_backups: false, pgbackrest: false, snapshots: false, replica: false, dumps: false, barman: false } };
    expect(() => parseScenario({ ...base, defects: [{ kind: 'wal-gap', from: ['barman'] }] }, 'x.yaml')).toThrow(/not consistent/);
    expect(parseScenario({ ...base, components: { ...base.components, barman: true }, defects: [{ kind: 'wal-gap', from: ['barman'] }] }, 'x.yaml').name).toBe('x');
  });

  it('the inventory wizard finds Barman servers (never the [barman] section), naming the main configuration file', () => {
    const d = mkdtempSync(join(tmpdir(), 'barman-scan-'));
    try {
      writeFileSync(join(d, 'barman.conf'), '[barman]\nbarman_home = /var/lib/barman\n\n[pg-main]\nconninfo = host=db1\n');
      mkdirSync(join(d, 'barman.d'));
      writeFileSync(join(d, 'barman.d', 'pg-reports.conf'), '[pg-reports]\nbackup_method = postgres\n');
      const found = barmanServers([join(d, 'barman.conf')], [join(d, 'barman.d')]);
      expect(found.map((f) => f.source)).toEqual([
        { kind: 'barman', server: 'pg-main', config: join(d, 'barman.conf') },
        { kind: 'barman', server: 'pg-reports', config: join(d, 'barman.conf') },
      ]);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
