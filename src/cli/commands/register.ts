import type { Command } from 'commander';
import type { Context } from '../context.js';

/** Each command file exports one of these; commands/index.ts lists them. */
export type RegisterCommand = (program: Command, ctx: () => Context) => void;
