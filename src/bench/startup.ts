// Bench: the CLI's start (issue 16). Spawns the built CLI N times per case and
// reports medians of wall time and of CPU time (user + sys): on a shared
// machine the wall time mostly measures the others' load, the CPU time what
// undrop itself costs. Cases: bare `node -e 1` (the floor), `--version`,
// `probe --help`, and `recover` up to its first server contact: a Unix socket
// stands in for the delayed replica it pauses first, and the clock stops when
// the CLI connects to it (the CLI is then killed). Touches no PostgreSQL.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { execa } from 'execa';
import { defaultWorkDir } from '../postgres/instance.js';

export interface StartupCase {
  name: string;
  wallMs: number;
  cpuMs: number;
  runs: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

/** One finished run: bash's `time` gives wall and CPU of the child. */
async function timed(args: string[]): Promise<{ wallMs: number; cpuMs: number }> {
  const cmd = [process.execPath, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = await execa('bash', ['-c', `TIMEFORMAT='%R %U %S'; { time ${cmd} >/dev/null 2>&1 </dev/null; } 2>&1`]);
  const [wall, user, sys] = r.stdout.trim().split(/\s+/).map(Number) as [number, number, number];
  return { wallMs: wall * 1000, cpuMs: (user + sys) * 1000 };
}

/** CPU time a running process has used so far (Linux: /proc/PID/stat, clock ticks of 10 ms). */
function cpuSoFar(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** `recover` from spawn to its first connection (the replica's pause). */
async function firstContact(cli: string, dir: string): Promise<{ wallMs: number; cpuMs: number }> {
  const dsn = `host=${dir} port=5432 dbname=shop user=app`;
  const inventory = join(dir, 'undrop.yaml');
  await writeFile(inventory, `production:\n  dsn: "${dsn}"\nsources:\n  - name: replica\n    kind: delayed-replica\n    dsn: "${dsn}"\n`);
  return new Promise((done, fail) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, [cli, '-c', inventory, '--work-dir', join(dir, 'work'), 'recover', '--tables', 't', '--target', 'xid:1000', '--source', 'replica', '--yes'], { stdio: 'ignore' });
    const server = createServer((socket) => {
      const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const cpuMs = cpuSoFar(child.pid!);
      socket.destroy();
      child.kill('SIGKILL');
      server.close();
      done({ wallMs, cpuMs });
    });
    server.listen(join(dir, '.s.PGSQL.5432'));
    child.on('exit', () => {
      server.close();
      fail(new Error('recover exited before it connected'));
    });
  });
}

export async function benchStartup(o: { runs: number }): Promise<StartupCase[]> {
  const cli = resolve('dist/cli/main.js');
  const dir = await mkdtemp(join(defaultWorkDir(), 'bench-startup-'));
  const cases: { name: string; run: () => Promise<{ wallMs: number; cpuMs: number }> }[] = [
    { name: 'node -e 1 (bare node)', run: () => timed(['-e', '1']) },
    { name: 'undrop --version', run: () => timed([cli, '--version']) },
    { name: 'undrop probe --help', run: () => timed([cli, 'probe', '--help']) },
    { name: 'undrop recover, to its first server contact', run: () => firstContact(cli, dir) },
  ];
  const samples = cases.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
  try {
    // rounds, not one case after another: a load change hits every case alike
    for (let i = 0; i < o.runs; i++) {
      for (const [k, c] of cases.entries()) {
        const r = await c.run();
        samples[k]!.wall.push(r.wallMs);
        samples[k]!.cpu.push(r.cpuMs);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return cases.map((c, k) => ({ name: c.name, wallMs: Math.round(median(samples[k]!.wall)), cpuMs: Math.round(median(samples[k]!.cpu)), runs: o.runs }));
}
