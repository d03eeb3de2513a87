// D/undrop.yaml: production and every source the scenario built, so
// `undrop -c D/undrop.yaml …` works at once. Validated with the inventory
// schema before it is written.
import { mkdir, writeFile } from 'node:fs/promises';
import { chownForServer } from '../postgres/os-user.js';
import { labBarmanUser } from './barman.js';
import { join } from 'node:path';
import YAML from 'yaml';
import { validateInventory } from '../inventory/load.js';
import { LAB_DATABASE } from './dataset.js';
import type { LabLayout } from './layout.js';
import type { LabState } from './state.js';

export const SOURCE_NAMES = { replica: 'delayed-replica', pitr: 'pitr', pgbackrest: 'backrest', barman: 'barman', snapshot: 'snapshot', dump: 'dumps' } as const;

export function labDsn(socketDir: string, port: number, user: string): string {
  return `host=${socketDir} port=${port} dbname=${LAB_DATABASE} user=${user}`;
}

export function inventoryDocument(layout: LabLayout, state: LabState): Record<string, unknown> {
  const sources: Record<string, unknown>[] = [];
  if (state.replica) {
    sources.push({ name: SOURCE_NAMES.replica, kind: 'delayed-replica', dsn: labDsn(state.socketDir, state.replica.port, state.replica.superuser), data_dir: state.replica.dataDir, description: `streaming through slot ${state.replica.slot}, recovery_min_apply_delay ${state.replica.delay}` });
  }
  // A WAL archive is listed even without a base backup (the seed story): probe then says why PITR cannot work.
  if (state.archive) {
    sources.push({ name: SOURCE_NAMES.pitr, kind: 'pitr', base_backups: layout.base, wal_archive: state.archive });
  }
  if (state.pgbackrest) {
    sources.push({ name: SOURCE_NAMES.pgbackrest, kind: 'pgbackrest', stanza: state.pgbackrest.stanza, config: state.pgbackrest.config });
  }
  if (state.barman) {
    // Every barman command is a Python start: on a lab host shared with other work the 30 s default probe can run out.
    sources.push({ name: SOURCE_NAMES.barman, kind: 'barman', server: state.barman.server, config: state.barman.config, barman_user: labBarmanUser(), timeout: '2min' });
  }
  if (state.snapshots.length) {
    sources.push({ name: SOURCE_NAMES.snapshot, kind: 'snapshot', paths: [join(layout.snapshots, '*', 'pgdata')], superuser: 'postgres' });
  }
  if (state.dumps.length) {
    sources.push({ name: SOURCE_NAMES.dump, kind: 'dump', paths: [join(layout.dumps, '*.dump'), join(layout.dumps, '*.sql')] });
  }
  return {
    production: { dsn: labDsn(state.socketDir, state.primary!.port, state.primary!.superuser) },
    sources,
    work_dir: join(layout.dir, 'work'),
    lab: { dir: layout.dir, scenario: state.scenario, state: layout.stateFile, truth: layout.truthFile },
  };
}

export async function writeInventory(layout: LabLayout, state: LabState): Promise<void> {
  if (state.archive && !state.baseBackups.length) {
    await mkdir(layout.base, { recursive: true });
    await chownForServer(layout.base, false);
  }
  const doc = inventoryDocument(layout, state);
  validateInventory(doc, layout.inventoryFile);
  const header = `# Written by \`undrop lab up\` (scenario ${state.scenario}) at ${new Date().toISOString()}.\n# Use it with: undrop -c ${layout.inventoryFile} probe\n`;
  await writeFile(layout.inventoryFile, header + YAML.stringify(doc));
}
