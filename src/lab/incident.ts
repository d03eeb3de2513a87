// `lab incident`: the bad migration. One transaction locks the three tables,
// records their row counts and checksums (the ground truth, exactly as of the
// drop: nobody can commit to them in between), drops them and recreates them
// empty. The workload keeps writing into the new tables. Then the WAL is
// switched and archived, the transaction's records are found with
// pg_waldump, scenario defects that need the incident are planted, and
// D/truth.json is written.
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { failure, usageError } from '../errors.js';
import { findBinaries, type PgBinaries } from '../postgres/binaries.js';
import { TempInstance } from '../postgres/instance.js';
import { pgWaldumpXid } from '../postgres/lab-programs.js';
import { Lsn } from '../postgres/wal/lsn.js';
import { parseCommitLine } from '../postgres/wal/records.js';
import { segmentForLsn } from '../postgres/wal/segments.js';
import { INCIDENT_TABLES, LAB_DATABASE, LOST_TABLES, LOST_TABLES_DDL, MIXED_CASE_TABLE, MIXED_CASE_TABLE_DDL } from './dataset.js';
import { barmanWalsDir, chooseGapSegment, removeSegment } from './defects.js';
import { labLayout, type LabLayout } from './layout.js';
import { type Progress, silent, step } from './progress.js';
import { loadScenario } from './scenarios.js';
import { requireState, saveState, type LabState, type TableTruths } from './state.js';
import { CHECKSUM_METHOD, tablesChecksums } from './truth.js';
import { switchAndWaitArchived } from './up.js';
import { barmanBackupEndWal, barmanFlush, barmanWalNames } from './barman.js';

export const INCIDENT_SQL = [
  `LOCK TABLE ${INCIDENT_TABLES.join(', ')} IN ACCESS EXCLUSIVE MODE`,
  'DROP TABLE shipment_events',
  'DROP TABLE shipments',
  'DROP TABLE invoices',
  `DROP TABLE ${MIXED_CASE_TABLE}`,
  LOST_TABLES_DDL.trim(),
  MIXED_CASE_TABLE_DDL.trim(),
];

export interface IncidentInfo {
  xid: string;
  /** Start LSN of the COMMIT record: recovery_target_lsn with inclusive = false stops right before it. */
  commitLsn: string | null;
  /** Start LSN of the transaction's first record (its first Standby LOCK): a target here keeps the tables readable while paused. */
  firstLsn: string | null;
  /** End of the COMMIT record (the insert position right after it). */
  endLsn: string;
  commitTime: string | null;
  walFile: string | null;
  /** Insert position just before BEGIN. */
  beforeLsn: string;
  database: string;
  tables: string[];
  statements: string[];
}

export interface Truth {
  version: 1;
  scenario: string;
  database: string;
  tables: string[];
  checksumMethod: string;
  incident: IncidentInfo;
  beforeIncident: { at: string; tables: TableTruths };
  /** "Sales"."Order Items": dropped by the incident too, static since the build (same truth in every source). */
  mixedCase: { table: string; truth: { rows: number; checksum: string } };
  snapshots: LabState['snapshots'];
  dumps: { path: string; format: string; takenAt: string; labelledAt: string; valid: boolean; defect: string | null; tables: TableTruths | null }[];
  baseBackups: LabState['baseBackups'];
  defects: LabState['defects'];
}

/** Pull the first-record LSN and the COMMIT record (LSN, time) out of pg_waldump -x output. */
export function parseXactRecords(waldump: string): { firstLsn: string | null; commitLsn: string | null; commitTime: string | null } {
  let firstLsn: string | null = null;
  let commitLsn: string | null = null;
  let commitTime: string | null = null;
  for (const line of waldump.split('\n')) {
    const m = /\blsn: ([0-9A-F]+\/[0-9A-F]+),/.exec(line);
    if (!m) continue;
    const lsn = Lsn.canonical(m[1]!);
    firstLsn ??= lsn;
    const c = parseCommitLine(line);
    if (c) {
      commitLsn = lsn;
      // Milliseconds, like the commit time the lab reads from the server.
      commitTime = new Date(c.time).toISOString();
    }
  }
  return { firstLsn, commitLsn, commitTime };
}

async function attachPrimary(bin: PgBinaries, state: LabState): Promise<TempInstance> {
  if (!state.primary) throw failure('LAB_NO_PRIMARY', 'This lab has no primary (its build failed early).', { hint: 'Remove it with `undrop lab down` and build a new one.' });
  return TempInstance.attach({ bin, root: state.primary.root, socketDir: state.socketDir, port: state.primary.port, name: 'lab-primary', superuser: state.primary.superuser });
}

export async function labIncident(o: { dir?: string; progress?: Progress } = {}): Promise<{ truth: Truth; truthFile: string }> {
  const progress = o.progress ?? silent;
  const layout: LabLayout = labLayout(o.dir);
  const state = await requireState(layout);
  if (state.state === 'incident') {
    throw usageError('LAB_INCIDENT_DONE', `The incident already happened in this lab (at ${state.incidentAt}).`, `Its ground truth is in ${layout.truthFile}. For another run: undrop lab down && undrop lab up.`);
  }
  if (state.state !== 'up') {
    throw usageError('LAB_NOT_UP', `The lab in ${layout.dir} is not up (state "${state.state}"${state.error ? `: ${state.error}` : ''}).`, `Remove it with \`undrop lab down --dir ${layout.dir}\` and build it again.`);
  }
  const bin = await findBinaries(state.pg.major);
  const primary = await attachPrimary(bin, state);
  const scenario = loadScenario(state.scenario);

  const gapDefect = scenario.defects.find((d) => d.kind === 'wal-gap');
  if (gapDefect && state.archive) {
    // Make sure at least one whole segment lies between the backups and the incident.
    await switchAndWaitArchived(primary);
  }

  if (state.barman) {
    // A whole segment between the Barman backup and the incident (room for a planted gap).
    await barmanFlush(state.barman.config);
  }

  const { info, before, mixed } = await step(progress, 'incident', 'The migration: DROP and recreate shipments, shipment_events, invoices, "Sales"."Order Items" in one transaction', async () => {
    const client = await primary.connect(LAB_DATABASE);
    try {
      const beforeLsn = (await client.query<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l')).rows[0]!.l;
      await client.query('BEGIN');
      await client.query(INCIDENT_SQL[0]!);
      const xid = (await client.query<{ x: string }>('SELECT pg_current_xact_id()::text AS x')).rows[0]!.x;
      const tables = await tablesChecksums(client, LOST_TABLES, { inTransaction: true });
      const mixed = (await tablesChecksums(client, [MIXED_CASE_TABLE], { inTransaction: true }))[MIXED_CASE_TABLE]!;
      const at = new Date().toISOString();
      for (const sql of INCIDENT_SQL.slice(1)) await client.query(sql);
      await client.query('COMMIT');
      const endLsn = (await client.query<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l')).rows[0]!.l;
      const ts = (await client.query<{ t: Date | null }>('SELECT pg_xact_commit_timestamp($1::text::xid) AS t', [xid])).rows[0]!.t;
      const i: IncidentInfo = { xid, commitLsn: null, firstLsn: null, endLsn, commitTime: ts ? ts.toISOString() : null, walFile: null, beforeLsn, database: LAB_DATABASE, tables: [...INCIDENT_TABLES], statements: ['BEGIN', ...INCIDENT_SQL, 'COMMIT'] };
      return { info: i, before: { at, tables }, mixed };
    } finally {
      await client.end().catch(() => {});
    }
  }, (r) => `xid ${r.info.xid}`);

  await step(progress, 'waldump', 'Find the transaction in the WAL (pg_waldump)', async () => {
    const r = await pgWaldumpXid(bin, join(primary.dataDir, 'pg_wal'), info.xid, info.beforeLsn, info.endLsn);
    const p = parseXactRecords(r.stdout);
    info.firstLsn = p.firstLsn;
    info.commitLsn = p.commitLsn;
    info.commitTime ??= p.commitTime;
    info.walFile = p.commitLsn ? segmentForLsn(1, p.commitLsn) : null;
  }, () => `first record ${info.firstLsn ?? '?'}, COMMIT at ${info.commitLsn ?? '?'} (${info.commitTime ?? '?'})`);

  if (state.archive) {
    await step(progress, 'archive', 'Switch WAL so the incident is archived', () => switchAndWaitArchived(primary), (seg) => `last archived ${seg}`);
  }

  if (state.barman) {
    const config = state.barman.config;
    await step(progress, 'barman-wal', 'Switch WAL so that Barman has the incident', () => barmanFlush(config), () => 'received');
  }

  if (gapDefect && (state.archive || state.barman)) {
    await step(progress, 'wal-gap', `Scenario "${scenario.name}": remove one archived segment between the base backup and the incident`, async () => {
      let after: string;
      let archived: string[];
      if (state.archive) {
        const newest = [...state.baseBackups].sort((a, b) => a.takenAt.localeCompare(b.takenAt)).pop();
        after = newest?.endLsn ? segmentForLsn(1, newest.endLsn) : newest?.startWalFile ?? '';
        archived = readdirSync(state.archive);
      } else {
        // Barman only: between the end of its backup and the incident, in its WAL folder.
        after = (await barmanBackupEndWal(state.barman!.config)) ?? '';
        archived = barmanWalNames(barmanWalsDir(state.barman!.home, state.barman!.server));
      }
      const incidentSeg = segmentForLsn(1, info.firstLsn ?? info.beforeLsn);
      const seg = chooseGapSegment(archived, after, incidentSeg);
      if (!seg) throw failure('LAB_NO_GAP_SEGMENT', `No archived segment lies between ${after} and ${incidentSeg}.`, { hint: 'Rebuild the lab; the build switches WAL so that there is one.' });
      const removed = await removeSegment(layout, state, seg, gapDefect.from);
      state.defects.push({ code: 'wal-gap', description: `Archived WAL segment ${seg} (between the newest base backup and the incident) is missing${removed.length > 1 ? ' from the archive and the pgBackRest repository' : ''}.`, path: removed[0] ?? null, at: new Date().toISOString() });
      return seg;
    }, (seg) => `${seg} removed`);
  }

  const truth: Truth = {
    version: 1,
    scenario: state.scenario,
    database: LAB_DATABASE,
    tables: [...LOST_TABLES],
    checksumMethod: CHECKSUM_METHOD,
    incident: info,
    beforeIncident: before,
    mixedCase: { table: MIXED_CASE_TABLE, truth: mixed },
    snapshots: state.snapshots,
    dumps: state.dumps.map((d) => ({ path: d.path, format: d.format, takenAt: d.takenAt, labelledAt: d.labelledAt, valid: d.valid, defect: d.defect, tables: d.tables })),
    baseBackups: state.baseBackups,
    defects: state.defects,
  };
  await writeFile(layout.truthFile, JSON.stringify(truth, null, 2) + '\n');
  state.state = 'incident';
  state.incidentAt = info.commitTime ?? new Date().toISOString();
  await saveState(layout, state);
  return { truth, truthFile: layout.truthFile };
}
