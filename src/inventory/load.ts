// Load and validate undrop.yaml: every problem reported at once, each with
// its path (sources[2].paths: expected a list), unknown keys and kinds
// flagged, duplicate source names refused.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';
import { usageError } from '../errors.js';
import { type Inventory, type SourceConfig, SOURCE_KINDS, inventoryTop, sourceSchemas } from './schema.js';

export function defaultConfigPath(flag?: string): string {
  return resolve(flag ?? process.env.UNDROP_CONFIG ?? 'undrop.yaml');
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(top level)';
}

function issueText(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_type') {
    const received = (issue as { input?: unknown }).input;
    if (received === undefined) return 'is required';
    const names: Record<string, string> = { array: 'a list', string: 'a string', number: 'a number', object: 'a mapping (key: value)' };
    return `expected ${names[issue.expected] ?? issue.expected}`;
  }
  return issue.message;
}

/** Validate a parsed document; returns the inventory or throws one error listing every problem. */
export function validateInventory(doc: unknown, file: string): Inventory {
  const problems: string[] = [];
  const top = inventoryTop.safeParse(doc ?? {}, { reportInput: true });
  if (!top.success) {
    for (const i of top.error.issues) problems.push(`${formatPath(i.path)}: ${issueText(i)}`);
  }
  const rawSources = top.success ? top.data.sources : Array.isArray((doc as { sources?: unknown })?.sources) ? ((doc as { sources: unknown[] }).sources) : [];
  const sources: SourceConfig[] = [];
  const seen = new Map<string, number>();
  rawSources.forEach((raw, idx) => {
    const at = `sources[${idx}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      problems.push(`${at}: expected a mapping with name and kind`);
      return;
    }
    const kind = (raw as { kind?: unknown }).kind;
    if (typeof kind !== 'string' || !(SOURCE_KINDS as string[]).includes(kind)) {
      problems.push(`${at}.kind: ${kind === undefined ? 'is required' : `unknown source kind "${String(kind)}"`} (one of ${SOURCE_KINDS.join(', ')})`);
      return;
    }
    const parsed = sourceSchemas[kind as keyof typeof sourceSchemas].safeParse(raw, { reportInput: true });
    if (!parsed.success) {
      for (const i of parsed.error.issues) problems.push(`${at}${i.path.length ? `.${formatPath(i.path)}` : ''}: ${issueText(i)}`);
      return;
    }
    const src = parsed.data as SourceConfig;
    const first = seen.get(src.name);
    if (first !== undefined) problems.push(`${at}.name: duplicate source name "${src.name}" (also sources[${first}])`);
    else seen.set(src.name, idx);
    sources.push(resolvePaths(src, dirname(file)));
  });
  if (problems.length > 0) {
    throw usageError(
      'CONFIG_INVALID',
      `${file} has ${problems.length} problem${problems.length > 1 ? 's' : ''}:`,
      'Fix the lines above; DESIGN.md and the README show a complete inventory.',
      problems.map((p) => `  ${p}`),
    );
  }
  const data = top.success ? top.data : ({} as z.infer<typeof inventoryTop>);
  return {
    file,
    production: data.production ?? {},
    sources,
    workDir: data.work_dir ? abs(data.work_dir, dirname(file)) : undefined,
    pgBin: data.pg_bin,
    lab: data.lab,
    ...(data.verify ? { verify: data.verify } : {}),
  };
}

function abs(p: string, base: string): string {
  return isAbsolute(p) ? p : resolve(base, p);
}

function resolvePaths(src: SourceConfig, base: string): SourceConfig {
  switch (src.kind) {
    case 'pitr':
      return { ...src, base_backups: abs(src.base_backups, base), wal_archive: src.wal_archive ? abs(src.wal_archive, base) : undefined };
    case 'snapshot':
    case 'dump':
      return { ...src, paths: src.paths.map((p) => abs(p, base)) };
    case 'pgbackrest':
    case 'barman':
      return { ...src, config: src.config ? abs(src.config, base) : undefined };
    default:
      return src;
  }
}

export async function loadInventory(configFlag?: string): Promise<Inventory> {
  const file = defaultConfigPath(configFlag);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw usageError('CONFIG_MISSING', `No inventory at ${file}.`, 'Pass -c FILE (or set UNDROP_CONFIG), or run `undrop lab up` to build a practice lab with its own undrop.yaml.');
    }
    throw usageError('CONFIG_UNREADABLE', `Cannot read ${file} (${code}).`, 'Check the file\'s permissions.');
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text, { prettyErrors: true });
  } catch (e) {
    const err = e as { message: string; linePos?: { line: number; col: number }[] };
    const pos = err.linePos?.[0];
    throw usageError(
      'CONFIG_YAML',
      `${file} is not valid YAML${pos ? ` (line ${pos.line}, column ${pos.col})` : ''}.`,
      'Check indentation (spaces, not tabs) and quoting around values with ":" or "#".',
      err.message.split('\n').slice(0, 6).map((l) => `  ${l}`),
    );
  }
  return validateInventory(doc, file);
}
