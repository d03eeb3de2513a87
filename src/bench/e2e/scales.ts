// Bench sizes. Lab --scale is shipments; the lost tables hold 3 × that.
import { usageError } from '../../errors.js';
import type { SourceKind } from './manual.js';

export interface BenchScale {
  name: string;
  scale: number;
  /** Rows (~1 kB) of the database nothing is lost in. */
  otherRows: number;
  runs: number;
  /** Source kinds run at this scale by default (all when absent). */
  kinds?: SourceKind[];
  /**
   * After the lab is built, trim its plain WAL archive to the pgBackRest backup's first segment
   * (pg_archivecleanup, as retention would): the archive of the whole load would not fit beside the runs.
   */
  trimArchive?: boolean;
}

const SCALES: Record<string, BenchScale> = {
  smoke: { name: 'smoke', scale: 2000, otherRows: 2000, runs: 1 },
  default: { name: 'default', scale: 350_000, otherRows: 150_000, runs: 3 },
  seed: { name: 'seed', scale: 5_000_000, otherRows: 2_000_000, runs: 1 },
  // The lost tables about a tenth of the cluster (the seed goal's condition) at a size one 2-core
  // machine with ~80 GB free holds with every source kind: 3 M rows lost, ~5 GB in another database.
  wide: { name: 'wide', scale: 1_000_000, otherRows: 4_000_000, runs: 1 },
  // The seed goal's condition at the seed's size: 15 M rows lost, ~21 GB in another database (the
  // lost tables ~9 % of the cluster). pgBackRest only, the kind whose source is compressed: a 23 GB
  // cluster, its restore by hand and undrop's fit in ~60 GB once the plain archive is trimmed. Three
  // runs: a first run there can pay twice the time for what the lab left behind (one run read 145 s).
  // About 35 min here.
  'seed-tenth': { name: 'seed-tenth', scale: 5_000_000, otherRows: 20_000_000, runs: 3, kinds: ['pgbackrest'], trimArchive: true },
};

export function scaleOf(name: string): BenchScale {
  const s = SCALES[name];
  if (!s) throw usageError('BENCH_SCALE_INVALID', `--scale ${name} is not one of ${Object.keys(SCALES).join(', ')}.`);
  return s;
}
