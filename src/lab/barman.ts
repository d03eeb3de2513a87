// A Barman server for the lab: its home and configuration inside D, run as
// the server OS user (barman_user), backup_method = postgres (pg_basebackup)
// and streaming_archiver = on (pg_receivewal through a replication slot),
// all over the lab's Unix socket. `barman cron` starts the receive-wal
// process in the background; `lab down` stops it (receive-wal --stop).
import { execa } from 'execa';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PgBinaries } from '../postgres/binaries.js';
import type { TempInstance } from '../postgres/instance.js';
import { barmanLabRun } from '../postgres/lab-programs.js';
import { chownForServer } from '../postgres/os-user.js';
import { postgresSettings } from '../postgres/settings.js';
import type { LabLayout } from './layout.js';

export const LAB_BARMAN_SERVER = 'lab';
const SLOT = 'barman';

export async function barmanAvailable(): Promise<boolean> {
  const r = await execa('barman', ['--version'], { reject: false, timeout: 20_000 }).catch(() => undefined);
  return !!r && r.exitCode === 0;
}

export function barmanConfigText(layout: LabLayout, bin: PgBinaries, primary: { socketDir: string; port: number; superuser: string }): string {
  const conn = `host=${primary.socketDir} port=${primary.port} user=${primary.superuser}`;
  return [
    "# Written by `undrop lab up`: the lab's Barman (its home is in the lab folder).",
    '[barman]',
    `barman_home = ${layout.barmanHome}`,
    `barman_user = ${postgresSettings().serverOsUser}`,
    `log_file = ${join(layout.barman, 'barman.log')}`,
    'log_level = INFO',
    `barman_lock_directory = ${layout.barmanHome}`,
    '',
    `[${LAB_BARMAN_SERVER}]`,
    'description = "undrop lab primary"',
    `conninfo = ${conn} dbname=postgres`,
    `streaming_conninfo = ${conn}`,
    'backup_method = postgres',
    'streaming_archiver = on',
    `slot_name = ${SLOT}`,
    `path_prefix = ${bin.dir}`,
    '',
  ].join('\n');
}

/** Configuration, home, slot, the receive-wal process, and the first WAL file in Barman's archive. */
export async function setUpBarman(layout: LabLayout, bin: PgBinaries, primary: TempInstance): Promise<{ config: string; home: string; server: string }> {
  await mkdir(layout.barmanHome, { recursive: true });
  await writeFile(layout.barmanConfig, barmanConfigText(layout, bin, primary));
  await chownForServer(layout.barman);
  await barmanLabRun(layout.barmanConfig, ['receive-wal', '--create-slot', LAB_BARMAN_SERVER], 120_000);
  await barmanLabRun(layout.barmanConfig, ['cron'], 120_000);
  await barmanFlush(layout.barmanConfig);
  return { config: layout.barmanConfig, home: layout.barmanHome, server: LAB_BARMAN_SERVER };
}

/** Switch WAL on the primary and wait until Barman has archived the segment (cron first: receive-wal runs). */
export async function barmanFlush(config: string): Promise<void> {
  await barmanLabRun(config, ['cron'], 120_000);
  await barmanLabRun(config, ['switch-wal', '--force', '--archive', '--archive-timeout', '120', LAB_BARMAN_SERVER], 180_000);
}

/** `barman backup --wait`: a DONE backup whose WAL is in Barman's archive. */
export async function barmanBackup(config: string): Promise<{ id: string | null; takenAt: string }> {
  const takenAt = new Date().toISOString();
  await barmanLabRun(config, ['backup', '--immediate-checkpoint', '--wait', '--wait-timeout', '300', LAB_BARMAN_SERVER], 60 * 60_000);
  const r = await barmanLabRun(config, ['-f', 'json', 'list-backups', LAB_BARMAN_SERVER], 60_000);
  let id: string | null = null;
  try {
    const doc = JSON.parse(r.stdout) as Record<string, { backup_id: string; status: string }[]>;
    id = doc[LAB_BARMAN_SERVER]?.find((b) => b.status === 'DONE')?.backup_id ?? null;
  } catch {
    /* id stays unknown */
  }
  return { id, takenAt };
}

/** Stop the receive-wal process (and its pg_receivewal); quiet when there is none. */
export async function stopBarman(config: string): Promise<boolean> {
  const r = await barmanLabRun(config, ['receive-wal', '--stop', LAB_BARMAN_SERVER], 60_000).catch(() => undefined);
  return !!r && r.exitCode === 0;
}
