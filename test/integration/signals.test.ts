import { existsSync } from 'node:fs';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('Ctrl-C', () => {
  it('stops and removes every temporary instance and exits 130', async () => {
    const child = execa(process.execPath, ['--import', 'tsx', 'test/fixtures/hold-instance.ts'], { reject: false, buffer: false });
    const info = await new Promise<{ root: string; socketDir: string; pid: number }>((resolve, reject) => {
      let buf = '';
      child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const line = buf.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve(JSON.parse(line));
      });
      child.on('exit', () => reject(new Error('fixture exited early')));
    });
    expect(alive(info.pid)).toBe(true);
    expect(existsSync(info.root)).toBe(true);
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(130);
    for (let i = 0; i < 50 && alive(info.pid); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive(info.pid)).toBe(false);
    expect(existsSync(info.root)).toBe(false);
    expect(existsSync(info.socketDir)).toBe(false);
  });

  it('a COMMIT already sent is waited for: the stop says what it did (committed), then everything is removed', async () => {
    const child = execa(process.execPath, ['--import', 'tsx', 'test/fixtures/commit-in-flight.ts'], { reject: false, buffer: false });
    let out = '';
    const root = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /committing (\{.*\})\n/.exec(out);
        if (m) resolve(JSON.parse(m[1]!).root);
      });
      child.on('exit', () => reject(new Error(`fixture exited early: ${out}`)));
    });
    // the COMMIT is on its way and takes a second (a deferred trigger sleeps): the signal lands in it
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(out).toContain('stopped by SIGTERM: committed=true');
    expect(existsSync(root)).toBe(false);
  });
});

