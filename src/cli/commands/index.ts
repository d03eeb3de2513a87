// Commands are registered only when they work end to end.
import type { Command } from 'commander';
import type { Context } from '../context.js';
import { registerPlaybook } from './playbook.js';
import { registerLocate } from './locate.js';
import { registerLab } from './lab.js';
import { registerProbe } from './probe.js';
import { registerPromote } from './promote.js';
import { registerGuided, registerRecover } from './recover.js';
import { registerVerify } from './verify.js';

export type RegisterCommand = (program: Command, ctx: () => Context) => void;

export const commands: RegisterCommand[] = [
  registerPlaybook,
  registerLocate,
  registerLab,
  registerProbe,
  registerRecover,
  registerPromote,
  registerVerify,
  registerGuided,
];
