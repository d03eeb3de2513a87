// Delayed replica → temporary instance. First, within seconds, pause replay:
// every minute that passes moves the replica toward the DROP. Then either
// read the paused replica in place (copy back takes schema and rows from it;
// no instance), or dump the tables from it into a fresh instance (--keep,
// verify), or — when
// the destructive transaction's locks were already replayed (an idle
// primary) — take a copy with pg_basebackup and recover the copy to just
// before that transaction, promoting it so the locks vanish. The replica
// itself is never promoted, restarted or reconfigured; replay stays paused
// until the user resumes it.
import { join } from 'node:path';
import type pg from 'pg';
import { failure } from '../../errors.js';
import type { SourceConfigOf } from '../../inventory/schema.js';
import { findBinaries, majorFromVersionNum } from '../../postgres/binaries.js';
import { connect, withClient } from '../../postgres/connect.js';
import { type ConnParams, programEnv, resolveConnParams } from '../../postgres/conninfo.js';
import { type TableName, displayName, qualified } from '../../postgres/identifiers.js';
import { TempInstance } from '../../postgres/instance.js';
import { makeStage, removeStage } from '../../postgres/work-dir.js';
import { pgBasebackup } from '../../postgres/lab-programs.js';
import { Lsn } from '../../postgres/wal/lsn.js';
import { chownForServer } from '../../postgres/os-user.js';
import { pgRestoreList } from '../../postgres/programs.js';
import { pgDumpSchema, pgDumpTables } from '../../postgres/restore-programs.js';
import { restoreArchive } from '../common/restore-archive.js';
import { parseToc } from '../common/toc.js';
import { startRecovery, waitForPromotion } from '../../postgres/recovery-watch.js';
import { tableNotInSource, verifyTables } from '../materialize/preflight.js';
import { recoveredInstance } from '../materialize/recovered.js';
import { targetSettings } from '../materialize/target-settings.js';
import type { Materialized, MaterializeRequest, ProbeResult } from '../types.js';
import { lockedByStartup, pauseReplay } from './pause.js';
import { startupLocks } from './queries.js';

export const RESUME_SQL = 'select pg_wal_replay_resume();';

export async function materializeReplica(config: SourceConfigOf<'delayed-replica'>, req: MaterializeRequest, _probe: ProbeResult): Promise<Materialized> {
  const progress = req.onProgress ?? (() => {});
  const replica: ConnParams = { ...resolveConnParams(config.dsn), database: req.database };
  const c = await connect(replica, { lockTimeoutMs: 2000, statementTimeoutMs: 30_000 });
  try {
    progress('pausing replay on the delayed replica');
    const pause = await pauseReplay(c);
    const resumeNote = `Replay on ${config.name} is PAUSED (since ${pause.pausedAt}). When the data is safe, resume it with: ${RESUME_SQL} — its delay window starts again from then.`;
    progress(`replay ${pause.state} at ${pause.replayLsn}${pause.replayTime ? ` (last replayed commit ${pause.replayTime})` : ''}`);
    if (passedTarget(pause, req)) {
      throw failure('REPLICA_TOO_LATE', `${config.name} has already replayed past the target (last replayed commit ${pause.replayTime}).`, {
        hint: `It holds the post-incident state; use another source. ${resumeNote}`,
      });
    }
    const versionNum = Number((await c.query('select current_setting(\'server_version_num\') as v')).rows[0].v);
    const bin = await findBinaries(majorFromVersionNum(versionNum));
    const locked = await lockedByStartup(c, req.tables.map((t) => qualified(t)));
    // No commit replayed since the standby started: its time is only known as the probe's estimate.
    const recoveryPoint = pause.replayTime
      ? { time: pause.replayTime, lsn: pause.replayLsn, basis: 'last commit replayed by the paused replica' }
      : { time: _probe.recoveryPoint?.time ?? null, lsn: pause.replayLsn, basis: _probe.recoveryPoint?.basis ?? 'no commit replayed since the replica started: time unknown' };
    if (locked.length === 0) {
      if (req.rowsInPlace && !req.keep) return await readInPlace(bin, replica, c, req, recoveryPoint, [resumeNote]);
      return await dumpFromReplica(bin, replica, req, recoveryPoint, [resumeNote]);
    }
    progress(`the startup process holds locks on ${locked.join(', ')}: recovering a copy instead`);
    const copy = await recoverCopy(bin, replica, config, req, [resumeNote, `The replica itself could not serve ${locked.join(', ')}: the destructive transaction's locks were already replayed. A copy was recovered to just before it.`]);
    // The copy's log names a time only when it replayed a commit; when none came between its start and
    // the target, the paused replica's point is the honest lower bound of what the copy holds.
    if (copy.recoveryPoint.time === null && recoveryPoint.time) {
      copy.recoveryPoint = { ...copy.recoveryPoint, time: recoveryPoint.time, basis: `${copy.recoveryPoint.basis}; no commit replayed by the copy: time of the paused replica (${recoveryPoint.basis}), a lower bound` };
    }
    return copy;
  } finally {
    await c.end().catch(() => {});
  }
}

function passedTarget(p: { replayLsn: string | null; replayTime: string | null }, req: MaterializeRequest): boolean {
  const t = req.target;
  if (t.commitLsn && p.replayLsn) return Lsn.compare(p.replayLsn, t.commitLsn) > 0;
  if (t.time && p.replayTime) return Date.parse(p.replayTime) >= Date.parse(t.time);
  return false;
}

async function dumpFromReplica(
  bin: Awaited<ReturnType<typeof findBinaries>>,
  replica: ConnParams,
  req: MaterializeRequest,
  recoveryPoint: Materialized['recoveryPoint'],
  notes: string[],
): Promise<Materialized> {
  const inst = await TempInstance.create({ bin, workDir: req.workDir, name: 'replica', keep: req.keep, throwaway: true });
  try {
    await inst.start();
    await inst.ensureDatabase(req.database);
    const conn = inst.connParams(req.database);
    req.onProgress?.(`dumping ${req.tables.map((t) => displayName(t)).join(', ')} from the paused replica`);
    const file = join(inst.root, 'replica.dump');
    // The identity check needs the tables' files on the replica itself (the dump gets new ones).
    const { files: sourceRelfilenodes } = await withClient(replica, (c) => replicaFiles(c, req.tables), { statementTimeoutMs: 10_000, lockTimeoutMs: 2000 });
    await pgDumpTables(bin, replica, req.tables, file);
    // pg_dump -t carries no CREATE SCHEMA, types, domains, collations or extensions: the schema comes
    // from a schema-only dump of the whole database (tables other sessions hold locked left out).
    const ddlFile = join(inst.root, 'replica-schema.dump');
    const locked = await withClient(replica, (c) => startupLocks(c), { statementTimeoutMs: 10_000 }).catch(() => []);
    await pgDumpSchema(bin, replica, ddlFile, locked.filter((l) => l.schema && l.name).map((l) => ({ schema: l.schema!, name: l.name! })));
    const listed = await pgRestoreList(bin, file);
    const ddlListed = await pgRestoreList(bin, ddlFile);
    await restoreArchive(bin, conn, file, parseToc(listed.stdout), req.tables, join(inst.root, 'lists'), notes, req.onProgress ?? (() => {}), { file: ddlFile, toc: parseToc(ddlListed.stdout) });
    const tables = await verifyTables(conn, req.tables, 'The paused replica');
    return { instance: inst, conn, database: req.database, recoveryPoint, tables, notes, sourceRelfilenodes, release: () => inst.destroy() };
  } catch (e) {
    await inst.destroy();
    throw e;
  }
}

/**
 * The paused replica serves the schema and the rows itself (its replay is
 * paused, so every connection reads the same state): no temporary instance.
 * Copy back dumps the tables' DDL from the replica (pg_dump --schema-only -t,
 * read-only) and streams the rows from it; the rows move once, replica to
 * production, and no initdb or server start waits in between.
 */
async function readInPlace(
  bin: Awaited<ReturnType<typeof findBinaries>>,
  replica: ConnParams,
  c: pg.Client,
  req: MaterializeRequest,
  recoveryPoint: Materialized['recoveryPoint'],
  notes: string[],
): Promise<Materialized> {
  req.onProgress?.('reading the paused replica in place (schema and rows, no temporary instance)');
  const label = 'The paused replica';
  // The identity check needs the tables' files on the replica itself. On the connection that paused it:
  // a new one costs a backend start, 30-60 ms on a busy 2-core host in the middle of an incident.
  const { files: sourceRelfilenodes, missing } = await replicaFiles(c, req.tables);
  if (missing.length) throw tableNotInSource(label, missing.map((t) => displayName(t)), replica.database);
  // the counts come from where the rows are (paused: nothing else runs there; a connection per table), or from the caller
  const tables = req.rowsCountedByCaller ? req.tables.map((t) => ({ name: displayName(t), rows: 0 })) : await verifyTables(replica, req.tables, label, { parallel: true });
  return { inPlace: { bin }, conn: replica, database: req.database, recoveryPoint, tables, ...(req.rowsCountedByCaller ? { rowsPending: true } : {}), notes, sourceRelfilenodes, rowsFrom: replica, release: async () => {} };
}

/** Each table's file on the replica (null: none, as for a partitioned table), and the tables it does not have; one query. */
async function replicaFiles(c: pg.Client, tables: readonly TableName[]): Promise<{ files: Record<string, number | null>; missing: TableName[] }> {
  const r = await c.query<{ present: boolean; f: string | null }>(
    'select to_regclass(x) is not null as present, pg_relation_filenode(to_regclass(x))::int8::text as f from unnest($1::text[]) with ordinality as u(x, i) order by i',
    [tables.map((t) => qualified(t))],
  );
  const files = Object.fromEntries(tables.map((t, i) => [displayName({ schema: t.schema ?? 'public', name: t.name }), r.rows[i]?.f ? Number(r.rows[i]!.f) : null]));
  return { files, missing: tables.filter((_, i) => !r.rows[i]?.present) };
}

async function recoverCopy(
  bin: Awaited<ReturnType<typeof findBinaries>>,
  replica: ConnParams,
  config: SourceConfigOf<'delayed-replica'>,
  req: MaterializeRequest,
  notes: string[],
): Promise<Materialized> {
  if (!req.target.xid && !req.target.commitLsn) {
    throw failure('TARGET_NEEDED', 'The replica\'s tables are locked by a replayed transaction, and recovering a copy needs its xid or LSN.', { hint: 'Run `undrop locate` and pass --target xid:N.' });
  }
  const stage = await makeStage(req.workDir, 'replica-copy');
  await chownForServer(stage);
  const data = join(stage, 'data');
  try {
    req.onProgress?.('taking a copy of the replica with pg_basebackup');
    // Without a mapping, pg_basebackup -Fp writes each tablespace to its original path (on this host: the live one).
    const tablespaces = await withClient(replica, (c) => c.query<{ oid: string; loc: string }>("select oid::text as oid, pg_tablespace_location(oid) as loc from pg_tablespace where pg_tablespace_location(oid) like '/%'"));
    await pgBasebackup(bin, {
      host: replica.host ?? '/var/run/postgresql',
      port: replica.port ?? 5432,
      user: replica.user ?? 'postgres',
      dir: data,
      format: 'plain',
      tablespaceMapping: tablespaces.rows.map((t) => [t.loc, join(stage, 'tablespaces', t.oid)] as [string, string]),
      env: programEnv(replica),
    });
  } catch (e) {
    removeStage(stage);
    throw e;
  }
  const restoreCommand = req.walArchive ? `cp '${req.walArchive}'/%f "%p"` : config.data_dir ? `cp '${config.data_dir}/pg_wal'/%f "%p"` : undefined;
  const inst = await TempInstance.fromDataDir(data, {
    bin,
    workDir: req.workDir,
    name: 'replica-copy',
    keep: req.keep,
    copy: false,
    recovery: 'recovery',
    settings: { ...(restoreCommand ? { restore_command: restoreCommand } : {}), ...targetSettings(req.target), hot_standby: true },
  });
  removeStage(stage);
  try {
    await startRecovery(inst);
    const outcome = await waitForPromotion(inst, { onProgress: req.onProgress , targetLsn: req.target.commitLsn ?? req.target.firstLsn });
    return await recoveredInstance(inst, req, outcome, 'The recovered copy of the replica', notes);
  } catch (e) {
    await inst.destroy();
    throw e;
  }
}
