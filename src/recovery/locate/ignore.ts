// --ignore: glob patterns (*, ?) over table names, schema-qualified or
// not, that set routine events aside (they are still listed as ignored).
import { parseTableName } from '../../postgres/identifiers.js';
import type { LocatedEvent } from './types.js';

function globToRegExp(p: string): RegExp {
  const esc = p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${esc}$`);
}

function matchesPattern(re: RegExp, name: string): boolean {
  const table = parseTableName(name).name;
  return re.test(name) || re.test(table);
}

/** The first pattern that every table of the event matches (an event with an unnamed file is never ignored). */
export function ignoredBy(patterns: readonly string[], e: LocatedEvent): string | undefined {
  const names = e.relations.map((r) => r.name);
  if (names.length === 0) return undefined;
  return patterns.find((p) => {
    const re = globToRegExp(p);
    return names.every((n) => n !== null && matchesPattern(re, n));
  });
}
