// `lab status`: each component, its process, port, size on disk, and whether
// it is healthy. It does not reveal the scenario's planted defects (that would
// spoil the drill); lab.json has them for the facilitator and for tests.
import { existsSync } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { findBinaries } from '../postgres/binaries.js';
import { withClient } from '../postgres/connect.js';
import { readPostmasterPid } from '../postgres/instance.js';
import { pgbackrestRun } from '../postgres/lab-programs.js';
import { barmanStatus } from './barman.js';
import { isSegmentName } from '../postgres/wal/segments.js';
import { LAB_DATABASE, WORKLOAD_FIRST_ID } from './dataset.js';
import { labLayout } from './layout.js';
import { isOurs } from './processes.js';
import { requireState, type LabState } from './state.js';

export interface ComponentStatus {
  name: string;
  kind: 'primary' | 'replica' | 'workload' | 'archive' | 'base-backup' | 'pgbackrest' | 'barman' | 'snapshot' | 'dump';
  pid: number | null;
  port: number | null;
  path: string | null;
  sizeBytes: number | null;
  healthy: boolean;
  detail: string;
}

export interface LabStatus {
  dir: string;
  scenario: string;
  state: LabState['state'];
  createdAt: string;
  incidentAt: string | null;
  socketDir: string;
  inventory: string;
  truth: string | null;
  healthy: boolean;
  components: ComponentStatus[];
  /** For the facilitator and tests; the human output only counts them. */
  defects: LabState['defects'];
}

export async function dirSize(path: string): Promise<number> {
  let st;
  try {
    st = await lstat(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.size;
  let total = 0;
  let names: string[] = [];
  try {
    names = await readdir(path);
  } catch {
    return 0;
  }
  for (const n of names) total += await dirSize(join(path, n));
  return total;
}

const fmtLag = (s: number | null) => (s === null ? 'no transaction replayed yet' : `replay ${Math.round(s)} s behind`);

async function serverStatus(state: LabState, which: 'primary' | 'replica'): Promise<ComponentStatus | undefined> {
  const c = state[which];
  if (!c) return undefined;
  const pid = readPostmasterPid(c.dataDir) ?? null;
  const alive = isOurs(pid, 'postgres');
  const base: ComponentStatus = { name: which, kind: which, pid: alive ? pid : null, port: c.port, path: c.dataDir, sizeBytes: await dirSize(c.dataDir), healthy: false, detail: alive ? '' : 'not running' };
  if (!alive) return base;
  const conn = { host: state.socketDir, port: c.port, user: c.superuser, database: LAB_DATABASE };
  try {
    if (which === 'primary') {
      const r = await withClient(conn, (cl) => cl.query<{ rec: boolean; archived: string; failed: string; last: string | null; recent: string }>(
        `SELECT pg_is_in_recovery() AS rec, archived_count::text AS archived, failed_count::text AS failed, last_archived_wal AS last,
                (SELECT count(*) FROM shipments WHERE id >= ${WORKLOAD_FIRST_ID} AND created_at > now() - interval '1 minute')::text AS recent
         FROM pg_stat_archiver`,
      ), { connectTimeoutMs: 5000, statementTimeoutMs: 10_000, lockTimeoutMs: 2000 });
      const x = r.rows[0]!;
      base.healthy = !x.rec && Number(x.failed) === 0;
      base.detail = `${x.recent} workload commits in the last minute` + (state.archive ? `; archived ${x.archived} segments (last ${x.last ?? 'none'}), ${x.failed} failures` : '');
    } else {
      const r = await withClient(conn, (cl) => cl.query<{ rec: boolean; lag: number | null; pause: string; wr: string | null; delay: string }>(
        `SELECT pg_is_in_recovery() AS rec, extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS lag,
                pg_get_wal_replay_pause_state() AS pause, (SELECT status FROM pg_stat_wal_receiver) AS wr,
                current_setting('recovery_min_apply_delay') AS delay`,
      ), { connectTimeoutMs: 5000, statementTimeoutMs: 10_000 });
      const x = r.rows[0]!;
      base.healthy = x.rec && x.wr === 'streaming';
      base.detail = `recovery_min_apply_delay ${x.delay}, ${fmtLag(x.lag)}, replay ${x.pause}, WAL receiver ${x.wr ?? 'not connected'}`;
    }
  } catch (e) {
    base.detail = `running but not answering: ${e instanceof Error ? e.message : String(e)}`;
  }
  return base;
}

export async function labStatus(o: { dir?: string } = {}): Promise<LabStatus> {
  const layout = labLayout(o.dir);
  const state = await requireState(layout);
  const components: ComponentStatus[] = [];
  for (const w of ['primary', 'replica'] as const) {
    const s = await serverStatus(state, w);
    if (s) components.push(s);
  }
  if (state.workload) {
    const alive = isOurs(state.workload.pid, 'pgbench');
    components.push({ name: 'workload', kind: 'workload', pid: alive ? state.workload.pid : null, port: null, path: state.workload.log, sizeBytes: null, healthy: alive, detail: alive ? `pgbench, ${state.workload.rate} tx/s since ${state.workload.startedAt}` : 'not running' });
  }
  if (state.archive) {
    let segs = 0;
    let tmp = 0;
    try {
      const names = await readdir(state.archive);
      segs = names.filter(isSegmentName).length;
      tmp = names.filter((n) => n.endsWith('.tmp')).length;
    } catch {
      /* missing */
    }
    components.push({ name: 'wal archive', kind: 'archive', pid: null, port: null, path: state.archive, sizeBytes: await dirSize(state.archive), healthy: existsSync(state.archive) && tmp === 0, detail: `${segs} segments${tmp ? `, ${tmp} half-written .tmp files` : ''}` });
  }
  for (const b of state.baseBackups) {
    components.push({ name: `base backup (${b.format})`, kind: 'base-backup', pid: null, port: null, path: b.path, sizeBytes: await dirSize(b.path), healthy: existsSync(join(b.path, 'backup_manifest')), detail: `taken ${b.takenAt}, start LSN ${b.startLsn ?? '?'}` });
  }
  if (state.pgbackrest) {
    const bin = await findBinaries(state.pg.major).catch(() => undefined);
    void bin;
    let detail = '';
    let healthy = false;
    try {
      const r = await pgbackrestRun(state.pgbackrest.config, state.pgbackrest.stanza, 'info', ['--output=json'], 60_000);
      const doc = JSON.parse(r.stdout) as { status?: { message?: string; code?: number }; backup?: unknown[] }[];
      healthy = doc[0]?.status?.code === 0;
      detail = `stanza ${state.pgbackrest.stanza}: ${doc[0]?.status?.message ?? '?'}, ${doc[0]?.backup?.length ?? 0} backups`;
    } catch (e) {
      detail = `pgbackrest info failed: ${e instanceof Error ? e.message : String(e)}`;
    }
    components.push({ name: 'pgbackrest', kind: 'pgbackrest', pid: null, port: null, path: state.pgbackrest.repo, sizeBytes: await dirSize(state.pgbackrest.repo), healthy, detail });
  }
  if (state.barman) {
    const { detail, healthy } = await barmanStatus(state.barman.config);
    components.push({ name: 'barman', kind: 'barman', pid: null, port: null, path: state.barman.home, sizeBytes: await dirSize(state.barman.home), healthy, detail });
  }
  for (const s of state.snapshots) {
    components.push({ name: 'snapshot', kind: 'snapshot', pid: null, port: null, path: s.path, sizeBytes: await dirSize(s.path), healthy: existsSync(join(s.path, 'PG_VERSION')), detail: `taken ${s.takenAt}` });
  }
  for (const d of [...state.dumps].sort((a, b) => a.labelledAt.localeCompare(b.labelledAt))) {
    components.push({ name: `dump (${d.format})`, kind: 'dump', pid: null, port: null, path: d.path, sizeBytes: await dirSize(d.path), healthy: existsSync(d.path), detail: `dated ${d.labelledAt}` });
  }
  return {
    dir: layout.dir,
    scenario: state.scenario,
    state: state.state,
    createdAt: state.createdAt,
    incidentAt: state.incidentAt,
    socketDir: state.socketDir,
    inventory: layout.inventoryFile,
    truth: existsSync(layout.truthFile) ? layout.truthFile : null,
    healthy: components.filter((c) => ['primary', 'replica', 'workload', 'archive'].includes(c.kind)).every((c) => c.healthy),
    components,
    defects: state.defects,
  };
}
