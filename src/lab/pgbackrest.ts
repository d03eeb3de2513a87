// A pgBackRest repository for the lab: config file and repo inside D, one
// stanza, archive-push added to the primary's archive_command after the plain
// archive copy, one full backup. Every command runs as the server OS user.
import { execa } from 'execa';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TempInstance } from '../postgres/instance.js';
import { pgbackrestRun } from '../postgres/lab-programs.js';
import { chownForServer } from '../postgres/os-user.js';
import { archiveCommand, type LabLayout } from './layout.js';

export const LAB_STANZA = 'lab';

export async function pgbackrestAvailable(): Promise<boolean> {
  const r = await execa('pgbackrest', ['version'], { reject: false, timeout: 10_000 }).catch(() => undefined);
  return !!r && r.exitCode === 0;
}

export function pgbackrestConfigText(layout: LabLayout, primary: { dataDir: string; socketDir: string; port: number; superuser: string }): string {
  return [
    '# Written by `undrop lab up`: the lab\'s pgBackRest repository.',
    '[global]',
    `repo1-path=${layout.pgbackrestRepo}`,
    'repo1-retention-full=2',
    `log-path=${join(layout.pgbackrest, 'log')}`,
    `lock-path=${join(layout.pgbackrest, 'lock')}`,
    `spool-path=${join(layout.pgbackrest, 'spool')}`,
    'log-level-file=info',
    'start-fast=y',
    'archive-timeout=120',
    'compress-type=gz',
    'compress-level=1',
    'process-max=2',
    '',
    `[${LAB_STANZA}]`,
    `pg1-path=${primary.dataDir}`,
    `pg1-socket-path=${primary.socketDir}`,
    `pg1-port=${primary.port}`,
    `pg1-user=${primary.superuser}`,
    '',
  ].join('\n');
}

/** Config, repository, stanza; then archive_command pushes every segment to the repository too. */
export async function setUpPgbackrest(layout: LabLayout, primary: TempInstance): Promise<{ config: string; repo: string; stanza: string }> {
  for (const d of ['repo', 'log', 'lock', 'spool']) await mkdir(join(layout.pgbackrest, d), { recursive: true });
  await writeFile(layout.pgbackrestConfig, pgbackrestConfigText(layout, primary));
  await chownForServer(layout.pgbackrest);
  await pgbackrestRun(layout.pgbackrestConfig, LAB_STANZA, 'stanza-create', [], 120_000);
  await primary.configure({ archive_command: archiveCommand(layout.archive, { config: layout.pgbackrestConfig, stanza: LAB_STANZA }) });
  await primary.query('SELECT pg_reload_conf()');
  return { config: layout.pgbackrestConfig, repo: layout.pgbackrestRepo, stanza: LAB_STANZA };
}

export async function pgbackrestFullBackup(layout: LabLayout): Promise<{ label: string | null; takenAt: string }> {
  const takenAt = new Date().toISOString();
  await pgbackrestRun(layout.pgbackrestConfig, LAB_STANZA, 'backup', ['--type=full'], 60 * 60_000);
  const info = await pgbackrestRun(layout.pgbackrestConfig, LAB_STANZA, 'info', ['--output=json'], 60_000);
  let label: string | null = null;
  try {
    const doc = JSON.parse(info.stdout) as { backup?: { label: string }[] }[];
    const backups = doc[0]?.backup ?? [];
    label = backups[backups.length - 1]?.label ?? null;
  } catch {
    /* label stays unknown */
  }
  return { label, takenAt };
}
