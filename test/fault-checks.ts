// What every fault test checks after a run that must fail: the exit code,
// the message and its next step, production untouched, nothing left behind,
// and the incident folder written up to the failure.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { expect } from 'vitest';
import type { CliResult } from './cli.js';

export interface FailedRunExpectation {
  exitCode: number;
  /** The error code (a regex alternation such as "(A|B)" when either is right). */
  code: string;
  message: RegExp;
  hint: RegExp;
  /** The run's --work-dir. */
  work: string;
  /** undrop_* schemas in production now (must be none). */
  sideSchemas: () => Promise<string[]>;
  /** The recover step the failure happened in (the report names it). */
  step?: string;
}

export async function expectFailedRun(r: CliResult, x: FailedRunExpectation): Promise<{ report: string; timeline: Record<string, unknown>[] }> {
  expect(r.exitCode, r.stderr).toBe(x.exitCode);
  const line = new RegExp(`error \\[(${x.code})\\]: `).exec(r.stderr);
  expect(line, r.stderr).toBeTruthy();
  const code = line![1]!;
  expect(r.stderr.slice(line!.index + line![0].length).split('\n')[0]).toMatch(x.message);
  expect(r.stderr).toMatch(new RegExp(`^HINT: ${x.hint.source}`, 'm'));
  expect(r.stderr).not.toMatch(/INTERNAL|this is a bug|at .*\.(ts|js):\d+/);
  expect(await x.sideSchemas(), 'nothing written to production').toEqual([]);
  const area = join(x.work, 'instances');
  expect(existsSync(area) ? readdirSync(area) : [], 'temporary folders left behind').toEqual([]);
  const ps = (await execa('ps', ['-eo', 'args='])).stdout.split('\n').filter((l) => l.includes(x.work));
  expect(ps, 'processes left behind').toEqual([]);
  const folder = /Incident folder: (\S+)/.exec(r.stderr)?.[1];
  expect(folder, r.stderr).toBeTruthy();
  const report = readFileSync(join(folder!, 'report.md'), 'utf8');
  expect(report).toMatch(/\*\*failed\*\*/);
  expect(report).toContain(code);
  const timeline = readFileSync(join(folder!, 'timeline.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(timeline.at(-1)).toMatchObject({ type: 'incident-closed', ok: false, error: { code } });
  if (x.step) expect(timeline.find((e) => e.type === 'step-failed'), 'the failing step is recorded').toMatchObject({ step: x.step, code });
  return { report, timeline };
}
