// Table names as users type them: comma-separated, schema-qualified or not,
// in SQL spelling ("Sales"."Order Items" keeps case and spaces; unquoted
// names fold to lower case). Identifiers are always quoted when used in SQL.
import { usageError } from '../errors.js';

export interface TableName {
  /** undefined when the user did not qualify the name (resolved later, usually to public). */
  schema?: string;
  name: string;
}

function parseIdentifierChain(text: string): string[] {
  const parts: string[] = [];
  let i = 0;
  const s = text.trim();
  while (i < s.length) {
    while (s[i] === ' ') i++;
    let part = '';
    if (s[i] === '"') {
      i++;
      let closed = false;
      while (i < s.length) {
        if (s[i] === '"') {
          if (s[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          closed = true;
          i++;
          break;
        }
        part += s[i++];
      }
      if (!closed) throw usageError('TABLE_NAME_INVALID', `Table name ${text} has an unterminated quote.`, 'Quote names like this: "Sales"."Order Items".');
      if (part === '') throw usageError('TABLE_NAME_INVALID', `Table name ${text} has an empty quoted identifier.`);
    } else {
      const start = i;
      while (i < s.length && s[i] !== '.' && s[i] !== ' ') i++;
      part = s.slice(start, i);
      if (!/^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*$/.test(part)) {
        throw usageError('TABLE_NAME_INVALID', `"${part}" in ${text} is not a valid unquoted identifier.`, 'Put names with capitals, spaces or symbols in double quotes: "Order Items".');
      }
      part = part.toLowerCase();
    }
    parts.push(part);
    while (s[i] === ' ') i++;
    if (i < s.length) {
      if (s[i] !== '.') throw usageError('TABLE_NAME_INVALID', `Unexpected "${s[i]}" in table name ${text}.`, 'Use schema.table, with double quotes around names that need them.');
      i++;
    }
  }
  return parts;
}

/** Split a comma-separated list, respecting commas inside double quotes. */
export function splitList(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((s) => s.trim()).filter((s) => s.length > 0);
}

export function parseTableName(text: string): TableName {
  const parts = parseIdentifierChain(text);
  if (parts.length === 1) return { name: parts[0]! };
  if (parts.length === 2) return { schema: parts[0]!, name: parts[1]! };
  throw usageError('TABLE_NAME_INVALID', `${text} has ${parts.length} parts; expected table or schema.table.`, 'Name tables as schema.table (the database comes from the inventory or --database).');
}

export function parseTableList(text: string): TableName[] {
  return splitList(text).map(parseTableName);
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** "schema"."table" for SQL. */
export function qualified(t: TableName, defaultSchema = 'public'): string {
  return `${quoteIdent(t.schema ?? defaultSchema)}.${quoteIdent(t.name)}`;
}

/** schema.table for people and JSON (quotes only where SQL would need them). */
export function displayName(t: TableName, defaultSchema = 'public'): string {
  const show = (s: string) => (/^[a-z_][a-z0-9_$]*$/.test(s) ? s : quoteIdent(s));
  return `${show(t.schema ?? defaultSchema)}.${show(t.name)}`;
}

export function sameTable(a: TableName, b: TableName, defaultSchema = 'public'): boolean {
  return (a.schema ?? defaultSchema) === (b.schema ?? defaultSchema) && a.name === b.name;
}
