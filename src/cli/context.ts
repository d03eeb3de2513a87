// Global options of the contract, resolved once for every command.
import { resolve } from 'node:path';
import { setPgBin } from '../postgres/binaries.js';
import { setWorkDir } from '../postgres/instance.js';
import { setServerOsUser } from '../postgres/os-user.js';
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
}

export interface Context {
  configFlag?: string;
  json: boolean;
  yes: boolean;
  /** False under --no-input or when stdin is not a terminal: every prompt then needs its flag. */
  interactive: boolean;
  workDir?: string;
  debug: boolean;
}

export function makeContext(o: GlobalOptions): Context {
  setOutputMode({ json: !!o.json, debug: !!o.debug });
  setPgBin(o.pgBin ? resolve(o.pgBin) : undefined);
  setWorkDir(o.workDir);
  setServerOsUser(o.osUser);
  return {
    configFlag: o.config,
    json: !!o.json,
    yes: !!o.yes,
    interactive: o.input !== false && !!process.stdin.isTTY,
    workDir: o.workDir ? resolve(o.workDir) : undefined,
    debug: !!o.debug,
  };
}
