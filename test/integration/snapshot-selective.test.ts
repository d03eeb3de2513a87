// Selective snapshot copy on real PostgreSQL (no lab), on the layout a SAN
// snapshot has in production: reached through a link (latest → snap1), its
// pg_wal a relative link to a WAL folder beside it, and no postgresql.conf
// (Debian keeps it in /etc). The server crashes (pg_ctl stop -m immediate)
// after a checkpoint and heavy writes to both the lost tables and a large
// other table in the same database, so crash recovery replays full-page
// images into files that were left sparse. The lost tables must come back
// equal to the truth counted at the crash, the other table's files and the
// other database's must be sparse in the copy, and the snapshot untouched.
// Of pg_wal (wal_keep_size keeps segments before the checkpoint, which also
// recycled others ahead), only what crash recovery reads is copied.
import { chmodSync, mkdirSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { lstat, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBinaries } from '../../src/postgres/binaries.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { withClient } from '../../src/postgres/connect.js';
import { parseTableList } from '../../src/postgres/identifiers.js';
import { copyTree, TempInstance } from '../../src/postgres/instance.js';
import { chownForServer } from '../../src/postgres/os-user.js';
import { pgCtlStop } from '../../src/postgres/programs.js';
import { type TableChecksum, tableChecksum } from '../../src/recovery/checksum.js';
import { materializeSnapshot } from '../../src/sources/snapshot/materialize.js';
import type { Materialized, MaterializeRequest, ProbeResult } from '../../src/sources/types.js';
import { testWorkDir, treeFingerprint } from '../helpers.js';

const TABLES = parseTableList('public.orders, public.items');
let root: string;
let snapshot: string; // the link: root/latest → root/snap1/pgdata
let truth: Record<string, TableChecksum>;

beforeAll(async () => {
  root = join(testWorkDir(), `snapsel-${process.pid}-${Date.now()}`);
  mkdirSync(root, { recursive: true });
  chmodSync(root, 0o755);
  const bin = await findBinaries();
  const prod = await TempInstance.create({ bin, workDir: root, name: 'snapsel-prod', settings: { max_wal_size: '1GB', checkpoint_timeout: '1h', wal_keep_size: '128MB' } });
  try {
    await prod.start();
    await prod.query('CREATE DATABASE shop');
    await prod.query('CREATE DATABASE other');
    await withClient(prod.connParams('other'), (c) => c.query("CREATE TABLE filler AS SELECT g AS id, repeat('o', 500) AS pad FROM generate_series(1, 40000) g"));
    await withClient(prod.connParams('shop'), async (c) => {
      await c.query("CREATE TABLE orders (id int PRIMARY KEY, note text, doc jsonb); INSERT INTO orders SELECT g, md5(g::text), jsonb_build_object('k', repeat(md5(g::text), 100)) FROM generate_series(1, 3000) g");
      await c.query('CREATE TABLE items (id int PRIMARY KEY, order_id int REFERENCES orders, qty int); INSERT INTO items SELECT g, 1 + g % 3000, g % 7 FROM generate_series(1, 20000) g');
      // about 80 MB beside them, with TOAST and two indexes
      await c.query("CREATE TABLE archive_big (id int PRIMARY KEY, kind int, body text); ALTER TABLE archive_big ALTER body SET STORAGE EXTERNAL; CREATE INDEX ON archive_big (kind)");
      await c.query("INSERT INTO archive_big SELECT g, g % 10, repeat(md5(g::text), 3 + (g % 5) * 40) FROM generate_series(1, 30000) g");
    });
    await prod.query('CHECKPOINT');
    // After the checkpoint: what crash recovery replays, into the lost tables and into the pages left sparse.
    await withClient(prod.connParams('shop'), async (c) => {
      await c.query("UPDATE archive_big SET body = body || 'x' WHERE id <= 3000 AND id % 3 = 0");
      await c.query('DELETE FROM archive_big WHERE id > 27000 AND id % 11 = 0');
      await c.query("INSERT INTO orders SELECT g, md5(g::text), jsonb_build_object('k', repeat(md5(g::text), 100)) FROM generate_series(3001, 4000) g");
      await c.query('UPDATE items SET qty = qty + 1 WHERE id % 5 = 0');
      truth = {};
      for (const t of TABLES) truth[`public.${t.name}`] = await tableChecksum(c, t);
    });
    await withClient(prod.connParams('other'), (c) => c.query("UPDATE filler SET pad = 'changed' WHERE id % 4 = 0"));
    // the crash: everything committed is in the WAL, not all of it in the data files
    const r = await pgCtlStop(bin, prod.dataDir, 'immediate', 60);
    expect(r.exitCode).toBe(0);
    // the snapshot: its pg_wal moved beside it behind a relative link, no postgresql.conf, reached through a link
    const pgdata = join(root, 'snap1', 'pgdata');
    mkdirSync(join(root, 'snap1'));
    await copyTree(prod.dataDir, pgdata);
    renameSync(join(pgdata, 'pg_wal'), join(root, 'snap1', 'wal'));
    symlinkSync('../wal', join(pgdata, 'pg_wal'));
    rmSync(join(pgdata, 'postgresql.conf'));
    await chownForServer(join(root, 'snap1'));
    snapshot = join(root, 'latest');
    symlinkSync(join(root, 'snap1', 'pgdata'), snapshot);
  } finally {
    await prod.destroy();
  }
}, 300_000);

afterAll(async () => {
  await runAllCleanups();
  if (root) rmSync(root, { recursive: true, force: true });
});

const config = () => ({ name: 'snap', kind: 'snapshot', paths: [snapshot] }) as const;
const probe = (): ProbeResult => ({ name: 'snap', kind: 'snapshot', status: 'usable', recoveryPoint: null, tables: [], findings: [], durationMs: 0, items: [{ label: snapshot, path: snapshot, status: 'usable', recoveryPoint: null, findings: [] }] }) as ProbeResult;
const request = (over: Partial<MaterializeRequest> = {}): MaterializeRequest => ({ tables: TABLES, database: 'shop', target: { kind: 'latest' }, keep: false, workDir: join(root, 'work'), ...over });

/** Segments before the checkpoint and recycled ones were left out, and said so. */
function expectWalNote(notes: string): void {
  const w = /Of pg_wal, (\d+) segment\(s\) \(([\d.]+) MB\) that crash recovery never reads were not copied/.exec(notes);
  expect(w, notes).toBeTruthy();
  expect(Number(w![1])).toBeGreaterThanOrEqual(4);
}

async function lostTables(m: Materialized): Promise<Record<string, TableChecksum>> {
  return withClient(m.conn, async (c) => {
    const out: Record<string, TableChecksum> = {};
    for (const t of TABLES) out[`public.${t.name}`] = await tableChecksum(c, t);
    return out;
  });
}

/** Apparent and allocated bytes of a relation's files (heap, TOAST, their indexes) in the copy. */
async function relationBytes(m: Materialized, db: string, table: string): Promise<{ apparent: number; allocated: number }> {
  const paths = await withClient({ ...m.conn, database: db }, async (c) =>
    (
      await c.query<{ p: string }>(
        `select pg_relation_filepath(x) as p from (
           select $1::regclass::oid as x
           union all select reltoastrelid from pg_class where oid = $1::regclass and reltoastrelid <> 0
           union all select indexrelid from pg_index where indrelid = $1::regclass
             or indrelid = (select reltoastrelid from pg_class where oid = $1::regclass)) s`,
        [table],
      )
    ).rows.map((r) => r.p),
  );
  let apparent = 0;
  let allocated = 0;
  for (const p of paths) {
    const s = await stat(join(m.instance!.dataDir, p));
    apparent += s.size;
    allocated += s.blocks * 512;
  }
  return { apparent, allocated };
}

describe('selective snapshot copy (real PostgreSQL, production layout)', () => {
  it('--selective relations: the lost tables equal the truth at the crash, archive_big and database "other" sparse, the snapshot untouched', async () => {
    const before = await treeFingerprint(join(root, 'snap1'));
    const m = await materializeSnapshot(config(), request({ selective: 'relations' }), probe());
    try {
      expect(await lostTables(m)).toEqual(truth);
      const notes = m.notes.join('\n');
      expect(notes).toMatch(/Started a copy of .*latest \(which resolves to .*snap1\/pgdata\)/);
      expect(notes).toMatch(/Its pg_wal is a link to .*snap1\/wal: the segments were copied/);
      expect(notes).toMatch(/Selective restore for database "shop" \(relation-level\).*public\.archive_big/);
      expect(notes).toMatch(/base\/ \d+ \(other\) left sparse/);
      // archive_big: only what crash recovery wrote (full-page images of the pages changed after the checkpoint) is allocated
      const big = await relationBytes(m, 'shop', 'archive_big');
      expect(big.apparent).toBeGreaterThan(30 * 1024 * 1024);
      expect(big.allocated).toBeLessThan(big.apparent / 3);
      // nothing of the copy leads outside its folder (the relative pg_wal link was brought inside)
      expect((await lstat(join(m.instance!.dataDir, 'pg_wal'))).isDirectory()).toBe(true);
      expectWalNote(notes);
    } finally {
      await m.release();
    }
    expect(await treeFingerprint(join(root, 'snap1'))).toBe(before);
  });

  it('by default (less than 256 MB of other tables): the database level, said in a note; database "other" sparse, the lost tables equal the truth', async () => {
    const m = await materializeSnapshot(config(), request(), probe());
    try {
      expect(await lostTables(m)).toEqual(truth);
      const notes = m.notes.join('\n');
      expect(notes).toMatch(/Relation-level restore not used \(database-level instead\): .* below 256 MB/);
      expect(notes).toMatch(/Selective restore for database "shop": /);
      const big = await relationBytes(m, 'shop', 'archive_big');
      expect(big.allocated).toBeGreaterThan(big.apparent * 0.9);
    } finally {
      await m.release();
    }
  });

  it('--selective off: a whole copy (the relative pg_wal link followed from the snapshot, not from the copy)', async () => {
    const m = await materializeSnapshot(config(), request({ selective: 'off' }), probe());
    try {
      expect(await lostTables(m)).toEqual(truth);
      expect(m.notes.join('\n')).not.toMatch(/Selective/);
      expect(m.notes.join('\n')).toMatch(/Its pg_wal is a link to .*snap1\/wal/);
      expectWalNote(m.notes.join('\n'));
    } finally {
      await m.release();
    }
  });
});
