// How many parallel workers each table's index builds may ask for in copy
// back. The tables load at once (one connection each), and every parallel
// index build draws its workers from the same server-wide pools
// (max_parallel_workers, itself within max_worker_processes): sized so that
// all loads together take at most half of them, and production's own
// parallel queries still find workers while undrop builds.

export interface WorkerPools {
  maxWorkerProcesses: number;
  maxParallelWorkers: number;
}

/** max_parallel_maintenance_workers for each of `parallel` loading sessions (0: no parallel build). Pure. */
export function maintenanceWorkers(pools: WorkerPools, parallel: number): number {
  const pool = Math.min(pools.maxWorkerProcesses, pools.maxParallelWorkers);
  if (!(pool > 0) || !(parallel >= 1)) return 0;
  return Math.floor(pool / 2 / parallel);
}

/** SQL reading the pools (run on production, any session). */
export const WORKER_POOLS_SQL = "SELECT current_setting('max_worker_processes')::int AS wp, current_setting('max_parallel_workers')::int AS pw";
