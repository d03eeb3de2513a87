// The schedules in the README's "Before the incident" section are checked as
// text: a cron line with five time fields, systemd units with the sections
// systemd needs, a GitHub Actions workflow that parses and runs verify nightly.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';

const readme = readFileSync('README.md', 'utf8');
const section = readme.slice(readme.indexOf('## Before the incident'), readme.indexOf('## The lab'));
const blocks = (lang: string) => [...section.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);

function ini(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let cur = '';
  for (const line of text.split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const sec = /^\[(\w+)\]$/.exec(line);
    if (sec) out[(cur = sec[1]!)] = {};
    else {
      const kv = /^(\w+)=(.+)$/.exec(line);
      expect(kv, `not key=value: ${line}`).not.toBeNull();
      out[cur]![kv![1]!] = kv![2]!;
    }
  }
  return out;
}

describe('README schedules', () => {
  it('cron: five time fields, a user, the strict verify with a Prometheus file', () => {
    const line = blocks('cron')[0]!.split('\n').find((l) => l && !l.startsWith('#'))!;
    const f = line.split(/\s+/);
    for (const field of f.slice(0, 5)) expect(field).toMatch(/^(\*|\d+(-\d+)?(,\d+)*)(\/\d+)?$/);
    expect(f[5]).toBe('root');
    expect(line).toMatch(/undrop .*verify --strict --prom-file \S+\.prom/);
  });

  it('systemd: a oneshot service and a persistent timer', () => {
    const [service, timer] = blocks('ini').map(ini);
    expect(service!.Service!.Type).toBe('oneshot');
    expect(service!.Service!.ExecStart).toMatch(/^\/\S+undrop .*verify --strict --prom-file /);
    expect(timer!.Timer!.OnCalendar).toMatch(/^\*-\*-\* \d\d:\d\d:\d\d$/);
    expect(timer!.Timer!.Persistent).toBe('true');
    expect(timer!.Install!.WantedBy).toBe('timers.target');
  });

  it('GitHub Actions: a nightly schedule whose step runs the strict verify', () => {
    const wf = YAML.parse(blocks('yaml').find((b) => b.includes('jobs:'))!);
    expect(wf.on.schedule[0].cron.split(' ')).toHaveLength(5);
    const steps = Object.values(wf.jobs as Record<string, { steps: { run?: string }[] }>)[0]!.steps;
    expect(steps.some((s) => /undrop .*verify --strict --prom-file/.test(s.run ?? ''))).toBe(true);
  });

  it('the verify block example is a valid inventory', async () => {
    const { validateInventory } = await import('../../src/inventory/load.js');
    const doc = YAML.parse(blocks('yaml').find((b) => b.startsWith('verify:'))!);
    expect(() => validateInventory(doc, '/tmp/undrop.yaml')).not.toThrow();
  });
});
