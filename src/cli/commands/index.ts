// Commands are registered only when they work end to end, in the order of an
// incident (help lists them so): pause, probe, locate, recover, promote, resume.
import { registerPlaybook } from './playbook.js';
import { registerLocate } from './locate.js';
import { registerLab } from './lab.js';
import { registerPause, registerResume } from './pause.js';
import { registerProbe } from './probe.js';
import { registerPromote } from './promote.js';
import { registerGuided, registerRecover } from './recover.js';
import { registerVerify } from './verify.js';
import type { RegisterCommand } from './register.js';

export const commands: RegisterCommand[] = [
  registerPause,
  registerProbe,
  registerLocate,
  registerRecover,
  registerPromote,
  registerResume,
  registerVerify,
  registerLab,
  registerPlaybook,
  registerGuided,
];
