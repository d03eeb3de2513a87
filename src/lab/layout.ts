// Where everything of a lab lives. One folder D holds the whole lab, so
// `lab down` removes it in one go; only the socket directory may live in /tmp
// when D's path is too long for a Unix socket name.
import { join, resolve } from 'node:path';

export const DEFAULT_LAB_DIR = './undrop-lab';
/** Unix socket paths (sun_path) hold at most 107 bytes; keep a margin. */
export const MAX_SOCKET_PATH = 100;

export interface LabLayout {
  dir: string;
  stateFile: string;
  truthFile: string;
  inventoryFile: string;
  primaryRoot: string;
  replicaRoot: string;
  replicaIncoming: string;
  archive: string;
  base: string;
  snapshots: string;
  dumps: string;
  pgbackrest: string;
  pgbackrestConfig: string;
  pgbackrestRepo: string;
  /** Barman: its configuration file and its home (barman_home) inside D/barman. */
  barman: string;
  barmanConfig: string;
  barmanHome: string;
  workloadScript: string;
  workloadLog: string;
  /** D/sock when short enough, else undefined (use a short folder in /tmp). */
  preferredSocketDir: string | undefined;
}

export function labLayout(dirArg: string = DEFAULT_LAB_DIR): LabLayout {
  const dir = resolve(dirArg);
  const sock = join(dir, 'sock');
  return {
    dir,
    stateFile: join(dir, 'lab.json'),
    truthFile: join(dir, 'truth.json'),
    inventoryFile: join(dir, 'undrop.yaml'),
    primaryRoot: join(dir, 'primary'),
    replicaRoot: join(dir, 'replica'),
    replicaIncoming: join(dir, 'replica.incoming'),
    archive: join(dir, 'archive'),
    base: join(dir, 'base'),
    snapshots: join(dir, 'snapshots'),
    dumps: join(dir, 'dumps'),
    pgbackrest: join(dir, 'pgbackrest'),
    pgbackrestConfig: join(dir, 'pgbackrest', 'pgbackrest.conf'),
    pgbackrestRepo: join(dir, 'pgbackrest', 'repo'),
    barman: join(dir, 'barman'),
    barmanConfig: join(dir, 'barman', 'barman.conf'),
    barmanHome: join(dir, 'barman', 'home'),
    workloadScript: join(dir, 'workload.sql'),
    workloadLog: join(dir, 'workload.log'),
    preferredSocketDir: socketPathFits(sock) ? sock : undefined,
  };
}

/** Whether `<dir>/.s.PGSQL.NNNNN.lock` stays within the socket name limit. */
export function socketPathFits(dir: string): boolean {
  return Buffer.byteLength(join(dir, '.s.PGSQL.65535.lock')) <= MAX_SOCKET_PATH;
}

/** Single-quote for /bin/sh (archive_command, restore_command). */
export function sh(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * The primary's archive_command: never overwrites (an existing segment is
 * accepted only when identical, so a retry after a failed pgBackRest push
 * succeeds), never leaves a half-written segment (copy to %f.tmp, then mv),
 * then the same segment is pushed to pgBackRest when a stanza is given.
 */
export function archiveCommand(archiveDir: string, pgbackrest?: { config: string; stanza: string }): string {
  const a = sh(archiveDir);
  const plain = `if test ! -f ${a}/%f; then cp %p ${a}/%f.tmp && mv ${a}/%f.tmp ${a}/%f; else cmp -s %p ${a}/%f; fi`;
  if (!pgbackrest) return plain;
  return `${plain} && ${pgbackrestPushCommand(pgbackrest)}`;
}

/** archive_command's pgBackRest part: push the segment to the stanza's repository. */
export function pgbackrestPushCommand(pgbackrest: { config: string; stanza: string }): string {
  return `pgbackrest --config=${sh(pgbackrest.config)} --stanza=${sh(pgbackrest.stanza)} archive-push %p`;
}

/** restore_command for the plain archive. */
export function restoreCommand(archiveDir: string): string {
  return `cp ${sh(archiveDir)}/%f %p`;
}

/** `20261125T013005Z`: sortable, filename-safe UTC stamp for snapshot and dump names. */
export function fileStamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}
