// Processes the lab started, checked and stopped by pid only, after making
// sure the pid still belongs to the program we started (pids get reused).
import { readFileSync } from 'node:fs';
import { alive } from '../postgres/process-tree.js';
import { sleep } from '../util/time.js';

export function isAlive(pid: number | null | undefined): boolean {
  return !!pid && alive(pid);
}

/** The process's command line, or undefined when it is gone or unreadable. */
export function commandOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

/** Alive and still running `program` (pgbench, postgres). */
export function isOurs(pid: number | null | undefined, program: string): boolean {
  if (!pid || !isAlive(pid)) return false;
  const cmd = commandOf(pid);
  return cmd === undefined ? true : cmd.includes(program);
}

export async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (!isAlive(pid)) return true;
    await sleep(100);
  }
  return !isAlive(pid);
}

/** SIGTERM, wait, then SIGKILL. True when the process is gone. */
export async function terminate(pid: number, program: string, graceMs = 5000): Promise<boolean> {
  if (!isOurs(pid, program)) return true;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return true;
  }
  if (await waitGone(pid, graceMs)) return true;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return true;
  }
  return waitGone(pid, 5000);
}
