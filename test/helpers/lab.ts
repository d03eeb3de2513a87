// One lab for a test file: built in beforeAll (lab up, then the incident
// unless asked not to), removed in afterAll with every temporary instance the
// tests left behind, and its folder deleted. The fields are filled once
// beforeAll ran; root, dir and cfg are known at once.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { loadInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { labDown } from '../../src/lab/down.js';
import { labIncident } from '../../src/lab/incident.js';
import { labLayout } from '../../src/lab/layout.js';
import { labIncidentWithReplica, type ReplicaIncidentState } from '../../src/lab/replica-state.js';
import { labUp, type UpOptions } from '../../src/lab/up.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { type ConnParams, resolveConnParams } from '../../src/postgres/conninfo.js';
import { testWorkDir } from '../helpers.js';

export interface LabFixture {
  /** The test's own folder (mode 0755: the server user reaches the lab below it). */
  root: string;
  dir: string;
  /** The lab's undrop.yaml. */
  cfg: string;
  inventory: Inventory;
  /** Production, connected to the lab's database. */
  prod: ConnParams;
  /** truth.json (after the incident; undefined without one). */
  truth: any;
}

export interface LabFixtureOptions {
  /** Prefix of the test's folder under the test work directory. */
  name: string;
  scale: number;
  delay?: string;
  scenario?: string;
  /** true (default): `lab incident` after `lab up`; a replica state runs it with the delayed replica in that state; false: no incident. */
  incident?: boolean | ReplicaIncidentState;
  /** For beforeAll (lab up under load takes minutes). */
  timeoutMs?: number;
  /** Leave out sources the file never reads (pgBackRest's backup alone is seconds of every build). */
  components?: UpOptions['components'];
}

/** What a file about the delayed replica reads: the replica, and the archive and base backups that locate and the WAL scan read. */
export const REPLICA_AND_WAL: UpOptions['components'] = { pgbackrest: false, snapshots: false, dumps: false };
/** What a file that recovers by WAL replay reads (auto and the guided flow choose PITR or pgBackRest): every source but the snapshot and the dumps. */
export const REPLAY_SOURCES: UpOptions['components'] = { snapshots: false, dumps: false };

export function useLab(o: LabFixtureOptions): LabFixture {
  const root = mkdtempSync(join(testWorkDir(), `${o.name}-`));
  chmodSync(root, 0o755);
  const dir = join(root, 'lab');
  const lab = { root, dir, cfg: join(dir, 'undrop.yaml') } as LabFixture;

  beforeAll(async () => {
    await labUp({ dir, scale: o.scale, ...(o.delay ? { delay: o.delay } : {}), ...(o.scenario ? { scenario: o.scenario } : {}), ...(o.components ? { components: o.components } : {}) });
    lab.inventory = await loadInventory(lab.cfg);
    lab.prod = { ...resolveConnParams(lab.inventory.production.dsn), database: 'shipping' };
    const incident = o.incident ?? true;
    if (incident === true) await labIncident({ dir });
    else if (incident) await labIncidentWithReplica({ dir, replica: incident });
    if (incident) lab.truth = JSON.parse(readFileSync(join(dir, 'truth.json'), 'utf8'));
  }, o.timeoutMs ?? 600_000);

  afterAll(async () => {
    await runAllCleanups();
    if (existsSync(dir)) await labDown(labLayout(dir)).catch(() => {});
    if (!existsSync(dir)) rmSync(root, { recursive: true, force: true });
  });

  return lab;
}

/** The DSN of the lab's delayed replica, as the inventory has it. */
export function replicaDsnOf(lab: LabFixture): string {
  return (lab.inventory.sources.find((s) => s.kind === 'delayed-replica') as { dsn: string }).dsn;
}
