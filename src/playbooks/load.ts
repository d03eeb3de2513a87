// Playbooks are data (playbooks/*.yaml): the steps, what to tell the
// responder, the manual commands and the checks. The CLI shows their text;
// `undrop playbook` prints them as runbooks for people who cannot run undrop.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { usageError } from '../errors.js';

const step = z.strictObject({
  title: z.string(),
  say: z.string().optional(),
  commands: z.array(z.string()).optional(),
  check: z.string().optional(),
});

const playbookSchema = z.strictObject({
  name: z.string(),
  title: z.string(),
  summary: z.string().optional(),
  steps: z.array(step),
});

export type Playbook = z.infer<typeof playbookSchema>;

/** playbooks/ next to the package (works from src/ under vitest and from dist/). */
export function playbooksDir(): string {
  let dir = fileURLToPath(new URL('.', import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'playbooks');
    if (existsSync(join(candidate, 'incident.yaml'))) return candidate;
    dir = join(dir, '..');
  }
  throw new Error('playbooks/ folder not found next to undrop');
}

export function listPlaybooks(): Playbook[] {
  const dir = playbooksDir();
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => parsePlaybook(readFileSync(join(dir, f), 'utf8'), f));
}

export function parsePlaybook(text: string, file: string): Playbook {
  const parsed = playbookSchema.safeParse(YAML.parse(text));
  if (!parsed.success) throw new Error(`playbooks/${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

export function getPlaybook(name: string): Playbook {
  const all = listPlaybooks();
  const hit = all.find((p) => p.name === name);
  if (!hit) {
    throw usageError('PLAYBOOK_UNKNOWN', `There is no playbook named "${name}".`, `Known playbooks: ${all.map((p) => p.name).join(', ')}.`);
  }
  return hit;
}

/** A runbook as plain Markdown text. */
export function renderPlaybook(p: Playbook): string {
  const out: string[] = [`# ${p.title}`, ''];
  if (p.summary) out.push(p.summary.trim(), '');
  p.steps.forEach((s, i) => {
    out.push(`## ${i + 1}. ${s.title}`, '');
    if (s.say) out.push(s.say, '');
    if (s.commands?.length) out.push('```bash', ...s.commands.map((c) => c.trimEnd()), '```', '');
    if (s.check) out.push(`Check: ${s.check}`, '');
  });
  return out.join('\n');
}
