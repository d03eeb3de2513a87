// Playbooks are data (playbooks/*.yaml): the steps, what to tell the
// responder, the manual commands and the checks. Every file is validated at
// load - its schema, the steps it borrows, the placeholders it uses, the
// patterns its checks assert - and an error names the file and the field.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import YAML, { isNode, visit } from 'yaml';
import { usageError } from '../errors.js';
import { fill, isPlaceholder, placeholdersIn } from './placeholders.js';
import { type Playbook, type PlaybookCommand, type PlaybookFile, playbookFileSchema, type PlaybookStep, type RunAs } from './schema.js';

/** playbooks/ next to the package (works from src/ under vitest and from dist/). */
export function playbooksDir(): string {
  if (process.env.UNDROP_PLAYBOOKS) return resolve(process.env.UNDROP_PLAYBOOKS);
  let dir = fileURLToPath(new URL('.', import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'playbooks');
    if (existsSync(join(candidate, 'incident.yaml'))) return candidate;
    dir = join(dir, '..');
  }
  throw new Error('playbooks/ folder not found next to undrop');
}

function invalid(file: string, field: string, message: string): never {
  throw usageError('PLAYBOOK_INVALID', `playbooks/${file}: ${field ? `${field}: ` : ''}${message}`, 'Playbooks ship with undrop: reinstall it, or fix the file (the schema is src/playbooks/schema.ts).');
}

/** Parse one file's text: YAML without comments (a note in a comment would silently vanish), then the schema. */
export function parsePlaybookFile(text: string, file: string): PlaybookFile {
  let doc: YAML.Document;
  try {
    doc = YAML.parseDocument(text, { prettyErrors: false });
  } catch (e) {
    invalid(file, '', `not YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc.errors.length) invalid(file, '', `not YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  const comments: string[] = [];
  if (doc.commentBefore || doc.comment) comments.push('top of file');
  visit(doc, (key, node, path) => {
    if (isNode(node) && (node.commentBefore || node.comment)) {
      comments.push(path.filter((p) => YAML.isPair(p)).map((p) => String((p as YAML.Pair).key)).concat(key !== null && typeof key === 'number' ? [String(key)] : []).join('.') || 'top level');
    }
  });
  if (comments.length) invalid(file, comments[0]!, `a YAML comment ("# ...") is not shown to anyone; write the text as a note: or say: field`);
  const r = playbookFileSchema.safeParse(doc.toJS());
  if (!r.success) {
    const i = r.error.issues[0]!;
    invalid(file, i.path.join('.'), i.message);
  }
  return r.data;
}

function readAll(dir: string): Map<string, PlaybookFile> {
  const out = new Map<string, PlaybookFile>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.yaml')).sort()) {
    const p = parsePlaybookFile(readFileSync(join(dir, f), 'utf8'), f);
    if (`${p.name}.yaml` !== f) invalid(f, 'name', `"${p.name}" differs from the file name`);
    out.set(p.name, p);
  }
  return out;
}

function ownCommand(c: PlaybookFile['steps'][number] extends infer S ? (S extends { commands?: (infer C)[] } ? C : never) : never, as: RunAs): PlaybookCommand {
  if (typeof c === 'string') return { run: c, as, manual: false };
  return { run: c.run, note: c.note, as: c.as ?? as, expect: c.expect, reject: c.reject, manual: !!c.manual };
}

/** Resolve a step reference FILE#ID to the written step (following further references). */
function resolveRef(files: Map<string, PlaybookFile>, ref: string, where: { file: string; field: string }, seen: string[] = []): PlaybookStep {
  if (seen.includes(ref)) invalid(where.file, where.field, `step references go round in a circle: ${[...seen, ref].join(' → ')}`);
  const [fileName, id] = ref.split('#') as [string, string];
  const f = files.get(fileName);
  if (!f) invalid(where.file, where.field, `${ref}: there is no playbook "${fileName}"`);
  const s = f.steps.find((x) => ('id' in x ? x.id === id : false));
  if (!s) {
    const borrowed = f.steps.find((x) => 'use' in x && x.use.split('#')[1] === id);
    if (borrowed && 'use' in borrowed) return resolveRef(files, borrowed.use, where, [...seen, ref]);
    invalid(where.file, where.field, `${ref}: playbooks/${fileName}.yaml has no step "${id}"`);
  }
  if ('use' in s) return resolveRef(files, s.use, where, [...seen, ref]);
  const as = s.as ?? 'client';
  return { id: s.id, ref, title: s.title, say: s.say, check: s.check, human: !!s.human, branch: s.branch, commands: (s.commands ?? []).map((c) => ownCommand(c, as)) };
}

function checkStep(p: PlaybookFile, s: PlaybookStep, field: string): void {
  const texts: [string, string][] = [];
  s.commands.forEach((c, i) => {
    texts.push([`${field}.commands.${i}.run`, c.run]);
    if (c.note) texts.push([`${field}.commands.${i}.note`, c.note]);
    for (const k of ['expect', 'reject'] as const) {
      const v = c[k];
      if (v === undefined) continue;
      texts.push([`${field}.commands.${i}.${k}`, v]);
      try {
        new RegExp(fill(v, {}, undefined), 'm');
      } catch (e) {
        invalid(p.name + '.yaml', `${field}.commands.${i}.${k}`, `not a regular expression: ${(e as Error).message}`);
      }
    }
    if (s.human && !c.manual && c.expect === undefined) invalid(p.name + '.yaml', `${field}.commands.${i}`, `step "${s.id}" is a human check: each command it runs needs expect: (what the person should see), or manual: true`);
  });
  for (const [f, text] of texts) {
    for (const name of placeholdersIn(text)) {
      if (!isPlaceholder(name)) invalid(p.name + '.yaml', f, `unknown placeholder {{${name}}} (known: src/playbooks/placeholders.ts)`);
      if (name === 'data' && !p.data && !p.fragment) invalid(p.name + '.yaml', f, '{{data}} needs the playbook\'s data: folder name');
    }
  }
}

function resolvePlaybook(files: Map<string, PlaybookFile>, p: PlaybookFile, dir: string): Playbook {
  const steps = p.steps.map((s, i) => {
    const field = `steps.${i}`;
    const step: PlaybookStep = 'use' in s ? { ...resolveRef(files, s.use, { file: `${p.name}.yaml`, field: `${field}.use` }), ...(s.branch ? { branch: s.branch } : {}) } : resolveRef(files, `${p.name}#${s.id}`, { file: `${p.name}.yaml`, field });
    if (step.branch && !p.branches?.[step.branch]) invalid(`${p.name}.yaml`, `${field}.branch`, `"${step.branch}" is not one of the playbook's branches (${Object.keys(p.branches ?? {}).join(', ') || 'none declared'})`);
    checkStep(p, step, field);
    return step;
  });
  const seen = new Map<string, number>();
  steps.forEach((s, i) => {
    const key = `${s.branch ?? ''}:${s.id}`;
    if (seen.has(key) && !s.branch) invalid(`${p.name}.yaml`, `steps.${i}`, `step id "${s.id}" appears twice`);
    seen.set(key, i);
  });
  return { name: p.name, title: p.title, kind: p.kind, fragment: !!p.fragment, data: p.data, summary: p.summary, branches: p.branches ?? {}, steps, file: join(dir, `${p.name}.yaml`) };
}

/** Every playbook, fragments included, validated and with borrowed steps resolved. */
export function loadPlaybooks(dir = playbooksDir()): Playbook[] {
  const files = readAll(dir);
  return [...files.values()].map((p) => resolvePlaybook(files, p, dir));
}

/** The runbooks a user can print (fragments left out). */
export function listPlaybooks(): Playbook[] {
  return loadPlaybooks().filter((p) => !p.fragment);
}

export function getPlaybook(name: string): Playbook {
  const all = listPlaybooks();
  const hit = all.find((p) => p.name === name || (p.kind !== undefined && p.kind === name));
  if (!hit) {
    throw usageError('PLAYBOOK_UNKNOWN', `There is no playbook named "${name}".`, `Known playbooks: ${all.map((p) => p.name).join(', ')}.`);
  }
  return hit;
}

/** One step by reference (FILE#ID), for code that shows a step's text. */
export function playbookStep(ref: string): PlaybookStep {
  return resolveRef(readAll(playbooksDir()), ref, { file: 'code', field: ref });
}
