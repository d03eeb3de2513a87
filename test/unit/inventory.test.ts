import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UndropError } from '../../src/errors.js';
import { loadInventory, validateInventory } from '../../src/inventory/load.js';

function problems(doc: unknown): string[] {
  try {
    validateInventory(doc, '/etc/undrop.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(UndropError);
    expect((e as UndropError).exitCode).toBe(2);
    return (e as UndropError).details.map((d) => d.trim());
  }
  return [];
}

describe('inventory validation', () => {
  it('accepts the design document example and resolves relative paths against the file', () => {
    const inv = validateInventory(
      {
        production: { dsn: 'postgresql://app@db1:5432/shop' },
        sources: [
          { name: 'replica-4h', kind: 'delayed-replica', dsn: 'postgresql://db3:5432/shop' },
          { name: 'wal', kind: 'pitr', base_backups: 'base', wal_archive: '/backups/wal' },
          { name: 'backrest', kind: 'pgbackrest', stanza: 'main', config: '/etc/pgbackrest/pgbackrest.conf' },
          { name: 'san', kind: 'snapshot', paths: ['/mnt/snapshots/*/pgdata'] },
          { name: 'nightly', kind: 'dump', paths: ['/backups/dumps/*.dump'], max_age: '26h', min_size: '1GB' },
        ],
      },
      '/etc/undrop/undrop.yaml',
    );
    expect(inv.sources.map((s) => s.kind)).toEqual(['delayed-replica', 'pitr', 'pgbackrest', 'snapshot', 'dump']);
    const pitr = inv.sources[1];
    expect(pitr?.kind === 'pitr' && pitr.base_backups).toBe('/etc/undrop/base');
  });

  it('reports every problem at once, each with its path', () => {
    const p = problems({
      production: { dsn: 'x', colour: 'blue' },
      sources: [
        { name: 'a', kind: 'dump', paths: ['/x'] },
        { name: 'b', kind: 'tape' },
        { name: 'c', kind: 'snapshot', paths: '/mnt/snap' },
        { name: 'a', kind: 'dump', paths: ['/y'], max_age: 'yesterday' },
        { name: 'w', kind: 'pitr', base_backups: '/b' },
      ],
    });
    expect(p).toEqual(
      expect.arrayContaining([
        'production: unknown key "colour"',
        'sources[1].kind: unknown source kind "tape" (one of delayed-replica, pitr, pgbackrest, barman, snapshot, dump)',
        'sources[2].paths: expected a list',
        'sources[3].max_age: expected a duration such as "26h", "90min" or "7d"',
        'sources[4].wal_archive: needs wal_archive or restore_command',
      ]),
    );
    expect(p.length).toBeGreaterThanOrEqual(5);
  });

  it('refuses duplicate source names', () => {
    const p = problems({ sources: [{ name: 'n', kind: 'dump', paths: ['/a'] }, { name: 'n', kind: 'dump', paths: ['/b'] }] });
    expect(p).toEqual(['sources[1].name: duplicate source name "n" (also sources[0])']);
  });

  it('flags unknown keys inside a source', () => {
    expect(problems({ sources: [{ name: 'n', kind: 'dump', paths: ['/a'], path: '/b' }] })).toEqual(['sources[0]: unknown key "path"']);
  });

  it('gives a clear error for a missing file and for invalid YAML', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'undrop-inv-'));
    await expect(loadInventory(join(dir, 'nope.yaml'))).rejects.toMatchObject({ code: 'CONFIG_MISSING', exitCode: 2 });
    writeFileSync(join(dir, 'bad.yaml'), 'sources:\n  - name: a\n   kind: dump\n');
    await expect(loadInventory(join(dir, 'bad.yaml'))).rejects.toMatchObject({ code: 'CONFIG_YAML', exitCode: 2 });
  });
});
