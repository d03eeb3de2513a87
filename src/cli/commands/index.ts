// Commands are registered only when they work end to end.
import { registerPlaybook } from './playbook.js';
import { registerLocate } from './locate.js';
import { registerLab } from './lab.js';
import { registerProbe } from './probe.js';
import { registerPromote } from './promote.js';
import { registerGuided, registerRecover } from './recover.js';
import { registerVerify } from './verify.js';
import type { RegisterCommand } from './register.js';

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
