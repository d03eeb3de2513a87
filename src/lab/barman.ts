// A Barman server for the lab: its home and configuration inside D, run as
// the server OS user (barman_user), backup_method = postgres (pg_basebackup)
// and streaming_archiver = on (pg_receivewal through a replication slot),
// all over the lab's Unix socket. `barman cron` starts the receive-wal
// process in the background; `lab down` stops it (receive-wal --stop).
import { execa } from 'execa';
import { readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PgBinaries } from '../postgres/binaries.js';
import type { TempInstance } from '../postgres/instance.js';
import { barmanLabRun } from '../postgres/lab-programs.js';
import { userInfo } from 'node:os';
import { chownForServer, isRoot } from '../postgres/os-user.js';
import { postgresSettings } from '../postgres/settings.js';
import type { LabLayout } from './layout.js';

export const LAB_BARMAN_SERVER = 'lab';
const SLOT = 'barman';

/** Barman runs as the server OS user when undrop runs as root, else as undrop's own user (Barman insists on its barman_user). */
export function labBarmanUser(): string {
  return isRoot() ? postgresSettings().serverOsUser : userInfo().username;
}

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
    `barman_user = ${labBarmanUser()}`,
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
  // receive-wal stops when the primary restarts (the snapshot step does): cron starts it again.
  await barmanLabRun(config, ['cron'], 120_000);
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

/** The WAL segment the newest DONE Barman backup ends in (show-backup latest). */
export async function barmanBackupEndWal(config: string): Promise<string | null> {
  const r = await barmanLabRun(config, ['-f', 'json', 'show-backup', LAB_BARMAN_SERVER, 'latest'], 60_000);
  try {
    const doc = JSON.parse(r.stdout) as Record<string, { base_backup_information?: { end_wal?: string } }>;
    return doc[LAB_BARMAN_SERVER]?.base_backup_information?.end_wal ?? null;
  } catch {
    return null;
  }
}

/** Segment names in Barman's WAL folder (its hash folders). */
export function barmanWalNames(walsDir: string): string[] {
  const list = (d: string) => {
    try {
      return readdirSync(d);
    } catch {
      return [];
    }
  };
  return list(walsDir).filter((n) => /^[0-9A-F]{16}$/.test(n)).flatMap((h) => list(join(walsDir, h)));
}

/** For `lab status`: Barman's backups and whether its receive-wal runs (barman check). */
export async function barmanStatus(config: string): Promise<{ detail: string; healthy: boolean }> {
  try {
    const list = JSON.parse((await barmanLabRun(config, ['-f', 'json', 'list-backups', LAB_BARMAN_SERVER], 60_000)).stdout) as Record<string, { status: string }[]>;
    const backups = list[LAB_BARMAN_SERVER] ?? [];
    // barman check exits 1 when a check fails; its JSON says which.
    const check = JSON.parse((await barmanLabRun(config, ['-f', 'json', 'check', LAB_BARMAN_SERVER], 60_000, true)).stdout || '{}') as Record<string, Record<string, { status: string }>>;
    const failed = Object.entries(check[LAB_BARMAN_SERVER] ?? {}).filter(([, v]) => v.status !== 'OK').map(([k]) => k.replace(/_/g, ' '));
    const done = backups.filter((b) => b.status === 'DONE').length;
    return { healthy: done > 0 && failed.length === 0, detail: `server ${LAB_BARMAN_SERVER}: ${backups.length} backups (${done} DONE)${failed.length ? `; barman check failed: ${failed.join(', ')}` : ''}` };
  } catch (e) {
    return { healthy: false, detail: `barman failed: ${e instanceof Error ? e.message : String(e)}` };
  }
}
