// Copy-back benchmark: on the same data (≥ 1 M rows, some TOASTed), in one
// run, times undrop's copy back against the two manual ways:
//   pg_dump -Fc -t … | pg_restore -d …   (DDL + data + indexes, the usual baseline)
//   psql -c "\copy … to stdout" | psql -c "\copy … from stdin"   (rows only, into a pre-created table)
// Source and target are two fresh temporary instances on this machine.
import type { PgBinaries } from '../postgres/binaries.js';
import { findBinaries } from '../postgres/binaries.js';
import { withClient } from '../postgres/connect.js';
import type { ConnParams } from '../postgres/conninfo.js';
import { defaultWorkDir, TempInstance } from '../postgres/instance.js';
import { pgDumpRestorePipe, psqlCopyPipe } from '../postgres/programs.js';
import { copyBack, moveBackInSource } from '../recovery/copy-back.js';
import { verifyCopy, verifyPairs } from '../recovery/verify.js';

export interface CopyBackBenchOptions {
  /** Rows in the main table (default 1,000,000). */
  rows?: number;
  /** Every n-th row carries an ~8 kB incompressible value (stored out of line, TOAST). Default 100. */
  toastEvery?: number;
  /** How many times each method runs (the best time counts). Default 1. */
  repeat?: number;
  workDir?: string;
  bin?: PgBinaries;
  onProgress?: (message: string) => void;
}

export interface CopyBackBenchResult {
  rows: number;
  toastRows: number;
  tableBytes: number;
  undropMs: number;
  undropBreakdown: { ddlMs: number; preDataMs: number; dataMs: number; postDataMs: number };
  pgDumpRestoreMs: number;
  psqlCopyMs: number;
  /** undrop ÷ pg_dump|pg_restore (goal ≤ 0.6). */
  ratioVsPgDump: number;
  /** undrop ÷ psql \copy pipe. */
  ratioVsPsqlCopy: number;
  /** Checksum verification of the copy (both sides), not part of the timings above. */
  verifyMs: number;
  verified: boolean;
}

const SERVER_SETTINGS = { max_wal_size: '4GB', checkpoint_timeout: '30min', shared_buffers: '256MB', maintenance_work_mem: '256MB' };

function setupSql(rows: number, toastEvery: number): string {
  return `
CREATE SCHEMA bench;
CREATE TABLE bench.customers (id serial PRIMARY KEY, name text NOT NULL, region text);
CREATE TABLE bench.orders (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id int NOT NULL REFERENCES bench.customers(id),
  amount numeric(12,2) NOT NULL,
  status text NOT NULL DEFAULT 'new',
  created_at timestamptz NOT NULL DEFAULT now(),
  note text
);
CREATE INDEX orders_customer_idx ON bench.orders (customer_id);
CREATE INDEX orders_created_idx ON bench.orders (created_at);
COMMENT ON COLUMN bench.orders.note IS 'free text; long ones are TOASTed';
INSERT INTO bench.customers (name, region) SELECT 'customer ' || g, 'region ' || (g % 17) FROM generate_series(1, 10000) g;
INSERT INTO bench.orders (customer_id, amount, status, created_at, note)
  SELECT 1 + ((g::bigint * 7919) % 10000)::int, (g % 100000) / 100.0, (ARRAY['new','paid','shipped','returned'])[1 + g % 4],
         timestamptz '2026-01-01 00:00:00+00' + g * interval '7 seconds',
         CASE WHEN g % ${toastEvery} = 0
              THEN (SELECT string_agg(md5(g::text || '/' || i), '') FROM generate_series(1, 256) i)
              ELSE 'order ' || g || ' note' END
  FROM generate_series(1, ${rows}) g;
`;
}

async function sql(conn: ConnParams, text: string): Promise<void> {
  await withClient(conn, (c) => c.query(text), { statementTimeoutMs: 0 });
}

export async function benchCopyBack(o: CopyBackBenchOptions = {}): Promise<CopyBackBenchResult> {
  const rows = o.rows ?? 1_000_000;
  const toastEvery = o.toastEvery ?? 100;
  const repeat = Math.max(1, o.repeat ?? 1);
  const say = o.onProgress ?? (() => {});
  const bin = o.bin ?? (await findBinaries());
  const workDir = o.workDir ?? defaultWorkDir();
  const [src, dst] = await Promise.all([
    TempInstance.create({ bin, workDir, name: 'bench-source', noSync: true, settings: SERVER_SETTINGS }),
    TempInstance.create({ bin, workDir, name: 'bench-target', noSync: true, settings: SERVER_SETTINGS }),
  ]);
  try {
    await Promise.all([src.start(), dst.start()]);
    const from = src.connParams('postgres');
    const to = dst.connParams('postgres');
    say(`generating ${rows.toLocaleString('en')} rows`);
    await sql(from, setupSql(rows, toastEvery));
    await sql(from, 'VACUUM ANALYZE bench.customers, bench.orders');
    const size = await withClient(from, (c) => c.query<{ b: string; t: string }>(`SELECT pg_total_relation_size('bench.orders')::text AS b, (SELECT count(*) FROM bench.orders WHERE length(note) > 1000)::text AS t`));
    const tables = [
      { schema: 'bench', name: 'customers' },
      { schema: 'bench', name: 'orders' },
    ];

    // The three methods run in rotation (A B C, A B C, …) so that load from anything else on the machine hits them alike; the best time of each counts.
    const pgDumpOnce = async (run: number) => {
      await sql(to, `DROP SCHEMA IF EXISTS bench CASCADE; CREATE SCHEMA bench; CHECKPOINT`);
      say(`pg_dump | pg_restore, run ${run}`);
      return (await pgDumpRestorePipe(bin, from, to, tables)).durationMs;
    };
    // rows only, into tables created beforehand (LIKE … INCLUDING ALL: defaults, keys, indexes)
    const psqlOnce = async (run: number) => {
      await sql(to, `DROP SCHEMA IF EXISTS manual CASCADE; CREATE SCHEMA manual; CREATE TABLE manual.customers (LIKE bench.customers INCLUDING ALL); CREATE TABLE manual.orders (LIKE bench.orders INCLUDING ALL); CHECKPOINT`);
      say(`psql \\copy | psql \\copy, run ${run}`);
      let ms = 0;
      for (const t of tables) ms += (await psqlCopyPipe(bin, from, to, `\\copy bench.${t.name} to stdout`, `\\copy manual.${t.name} from stdin`)).durationMs;
      return ms;
    };
    let breakdown = { ddlMs: 0, preDataMs: 0, dataMs: 0, postDataMs: 0 };
    let verifyMs = 0;
    let verified = false;
    const undropOnce = async (run: number) => {
      await sql(to, `DROP SCHEMA IF EXISTS undrop_bench CASCADE; CHECKPOINT`);
      say(`undrop copy back, run ${run}`);
      const t0 = Date.now();
      const r = await copyBack({ bin, source: { conn: from, database: 'postgres' }, production: to, tables, schema: 'undrop_bench', workDir });
      const ms = Date.now() - t0;
      if (ms <= undropMs) breakdown = { ddlMs: r.timings.ddlMs, preDataMs: r.timings.preDataMs, dataMs: r.timings.dataMs, postDataMs: r.timings.postDataMs };
      const v0 = Date.now();
      const v = await verifyCopy({ source: { conn: from, database: 'postgres' }, production: to, pairs: verifyPairs(r), noThrow: true });
      verifyMs = Date.now() - v0;
      verified = v.ok;
      await moveBackInSource({ conn: from, database: 'postgres' }, r);
      return ms;
    };
    let pgDumpRestoreMs = Infinity;
    let psqlCopyMs = Infinity;
    let undropMs = Infinity;
    for (let run = 1; run <= repeat; run++) {
      // pg_dump first in each round: psql's target tables are shaped after the tables it restores
      pgDumpRestoreMs = Math.min(pgDumpRestoreMs, await pgDumpOnce(run));
      psqlCopyMs = Math.min(psqlCopyMs, await psqlOnce(run));
      undropMs = Math.min(undropMs, await undropOnce(run));
    }

    return {
      rows,
      toastRows: Number(size.rows[0]!.t),
      tableBytes: Number(size.rows[0]!.b),
      undropMs,
      undropBreakdown: breakdown,
      pgDumpRestoreMs,
      psqlCopyMs,
      ratioVsPgDump: Math.round((undropMs / pgDumpRestoreMs) * 1000) / 1000,
      ratioVsPsqlCopy: Math.round((undropMs / psqlCopyMs) * 1000) / 1000,
      verifyMs,
      verified,
    };
  } finally {
    await Promise.all([src.destroy(), dst.destroy()]);
  }
}
