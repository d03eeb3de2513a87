// Global options of the contract, resolved once for every command.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { usageError } from '../errors.js';
import { configurePostgres } from '../postgres/settings.js';
import { setLongTimeouts } from '../postgres/timeouts.js';
import { parseDuration } from '../inventory/units.js';
import { setOutputMode } from './output.js';

export interface GlobalOptions {
  config?: string;
  json?: boolean;
  yes?: boolean;
  input?: boolean; // commander's --no-input sets input=false
  workDir?: string;
  pgBin?: string;
  osUser?: string;
  debug?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  programTimeout?: string;
  replayTimeout?: string;
}

export interface Context {
  configFlag?: string;
  json: boolean;
  yes: boolean;
  /** False under --no-input or when stdin is not a terminal: every prompt then needs its flag. */
  interactive: boolean;
  workDir?: string;
  debug: boolean;
  /** -q: results and errors only. */
  quiet: boolean;
  /** -v: every progress update as its own line. */
  verbose: boolean;
}

export function makeContext(o: GlobalOptions): Context {
  setOutputMode({ json: !!o.json, debug: !!o.debug, quiet: !!o.quiet });
  setLongTimeouts({ programMs: durationFlag(o.programTimeout, '--program-timeout'), replayMs: durationFlag(o.replayTimeout, '--replay-timeout') });
  const pgBin = o.pgBin ? resolve(o.pgBin) : undefined;
  // A wrong flag is the user's mistake, not a source's: refuse it up front rather than
  // letting each probe report it as an unusable backup (and still exit 0).
  if (pgBin !== undefined && !(existsSync(pgBin) && statSync(pgBin).isDirectory())) {
    throw usageError('PG_BIN_INVALID', `--pg-bin ${pgBin}: no such folder.`, 'Point --pg-bin at the folder that holds pg_ctl, initdb and pg_dump (for example /usr/lib/postgresql/15/bin).');
  }
  configurePostgres({ pgBin, workDir: o.workDir, osUser: o.osUser });
  return {
    configFlag: o.config,
    json: !!o.json,
    yes: !!o.yes,
    interactive: o.input !== false && !!process.stdin.isTTY,
    workDir: o.workDir ? resolve(o.workDir) : undefined,
    debug: !!o.debug,
    quiet: !!o.quiet,
    verbose: !!o.verbose,
  };
}

function durationFlag(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (!ms || ms <= 0) throw usageError('DURATION_INVALID', `${flag} ${text} is not a duration.`, `Write it like 90s, 30min, 12h (${flag} 12h).`);
  return ms;
}
