// What the global options --pg-bin, --work-dir and --os-user mean to the
// PostgreSQL layer, as one value: the CLI sets it once per command
// (configurePostgres); program discovery, the work directory and the
// server OS user read it here, instead of each module keeping a setter.
import { userInfo } from 'node:os';
import { resolve } from 'node:path';

export interface PostgresSettings {
  /** --pg-bin: look here first for PostgreSQL programs. */
  pgBin?: string;
  /** --work-dir: where temporary instances, staging folders and incident folders go. */
  workDir?: string;
  /** --os-user (or $UNDROP_OS_USER, default postgres): who runs the server programs when undrop runs as root; as an ordinary user, that user. */
  serverOsUser: string;
}

// As an ordinary user the server programs run as that user: tools told who runs them (barman_user) must hear that name.
const defaults = (): PostgresSettings => ({ serverOsUser: process.env.UNDROP_OS_USER || (process.getuid?.() === 0 ? 'postgres' : userInfo().username) });

let current: PostgresSettings = defaults();

export function configurePostgres(o: { pgBin?: string; workDir?: string; osUser?: string }): void {
  current = { pgBin: o.pgBin, workDir: o.workDir ? resolve(o.workDir) : undefined, serverOsUser: o.osUser || defaults().serverOsUser };
}

export function postgresSettings(): Readonly<PostgresSettings> {
  return current;
}
