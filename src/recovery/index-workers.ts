// How many parallel workers each table's index builds may ask for in copy
// back. The tables load at once (one connection each), and every parallel
// index build draws its workers from the same server-wide pool
// (max_parallel_workers, itself within max_worker_processes). Left at its
// default (2 per build), four loads would ask for 8 workers and the last
// builds would get none, or a single load would use 2 of 8 free. Sized
// instead so that the loads together ask for at most what the pool has free
// when copy back starts: more per table when few load at once (PostgreSQL
// still caps each build by the table's size and maintenance_work_mem), and
// never beyond what the server allows.
//
// The pools count worker slots, not CPUs. When production runs on this host
// its cores are known too, and when the loads alone keep every core busy (as
// many loads as cores, or more) no build gets a worker: a parallel build
// sorts in parts and merges them, more CPU than one backend sorting in
// memory, which only adds work when no core is free (lab, 3 loads on 2
// cores: production's CPU 7.1–7.9 → 5.6–6.3 s, the loads 10.5 → 8.8 s,
// median of 3 side by side).

export interface WorkerPools {
  maxWorkerProcesses: number;
  maxParallelWorkers: number;
  /** Parallel workers running now (other sessions' queries). */
  busy: number;
}

/**
 * max_parallel_maintenance_workers for each of `parallel` loading sessions (0: no parallel build); `cores`:
 * production's CPUs when known (it runs on this host). Pure.
 */
export function maintenanceWorkers(pools: WorkerPools, parallel: number, cores?: number): number {
  const free = Math.min(pools.maxWorkerProcesses, pools.maxParallelWorkers) - Math.max(0, pools.busy);
  if (!(free > 0) || !(parallel >= 1)) return 0;
  return cores !== undefined && parallel >= cores ? 0 : Math.floor(free / parallel);
}

/** SQL reading the pools (run on production, any session). */
export const WORKER_POOLS_SQL = `SELECT current_setting('max_worker_processes')::int AS wp, current_setting('max_parallel_workers')::int AS pw,
  (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'parallel worker') AS busy`;
