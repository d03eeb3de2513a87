// Runs a runbook the way a person pastes it: each command, in order, by bash,
// as the server OS user where the runbook says so. A human check is not
// judged by a person here: each of its commands' expected output is asserted
// instead. Manual commands (interactive, or undrop itself) are skipped.
import { homedir } from 'node:os';
import { execa } from 'execa';
import type { FilledStep, PlaybookDocument } from '../src/contract.js';

export interface RunOptions {
  /** Take this branch's steps (steps of other branches are skipped). */
  branch?: string;
  /** Step ids not to run (run later, or by another test). */
  skip?: string[];
  /** Only these step ids. */
  only?: string[];
  pgBin: string;
}

export interface CommandRun {
  step: string;
  run: string;
  as: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  skipped?: 'manual';
}

export class RunbookFailure extends Error {}

function selected(s: FilledStep, o: RunOptions): boolean {
  if (s.branch && s.branch !== o.branch) return false;
  if (o.skip?.includes(s.id)) return false;
  if (o.only && !o.only.includes(s.id)) return false;
  return true;
}

const root = process.getuid?.() === 0;

export async function runRunbook(doc: PlaybookDocument, o: RunOptions): Promise<CommandRun[]> {
  if (doc.unfilled.length) throw new RunbookFailure(`${doc.name}: placeholders left unfilled: ${doc.unfilled.map((u) => u.name).join(', ')}`);
  const path = `${o.pgBin}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin`;
  const out: CommandRun[] = [];
  for (const s of doc.steps.filter((x) => selected(x, o))) {
    for (const c of s.commands) {
      if (c.manual) {
        out.push({ step: s.id, run: c.run, as: c.as, exitCode: 0, stdout: '', stderr: '', skipped: 'manual' });
        continue;
      }
      // As an ordinary user, the server runs as that user: "as server" and "as root" steps run as it too.
      const shell = (home: string) => ['env', '-i', `PATH=${path}`, `HOME=${home}`, 'LC_ALL=C.UTF-8', 'bash', '-o', 'pipefail', '-c', c.run];
      const argv = !root ? shell(homedir()) : c.as === 'server' ? ['runuser', '-u', doc.osUser, '--', ...shell('/tmp')] : shell('/root');
      const r = await execa(argv[0]!, argv.slice(1), { reject: false, cwd: '/', timeout: 600_000, stdin: 'ignore' });
      const run: CommandRun = { step: s.id, run: c.run, as: c.as, exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
      out.push(run);
      const where = `${doc.name}#${s.id}: ${c.run.split('\n')[0]}`;
      if (run.exitCode !== 0) throw new RunbookFailure(`${where}\nexit ${run.exitCode}\nstdout: ${run.stdout.slice(-1500)}\nstderr: ${run.stderr.slice(-1500)}`);
      if (c.expect !== undefined && !new RegExp(c.expect, 'm').test(run.stdout)) throw new RunbookFailure(`${where}\nexpected /${c.expect}/ in: ${run.stdout.slice(-1500)}\nstderr: ${run.stderr.slice(-500)}`);
      if (c.reject !== undefined && new RegExp(c.reject, 'm').test(run.stdout)) throw new RunbookFailure(`${where}\nmust not show /${c.reject}/: ${run.stdout.slice(-1500)}`);
    }
  }
  return out;
}
