// `pg_restore -l` output: archive header (creation time, database, server
// version, format) and the entries (TABLE, TABLE DATA, …).
import { parsePgTimestamp } from '../../util/time.js';

export interface TocEntry {
  dumpId: number;
  desc: string;
  schema: string | null;
  name: string;
  owner: string | null;
}

export interface Toc {
  createdAt: string | null;
  dbname: string | null;
  format: string | null;
  compression: string | null;
  dumpVersion: string | null;
  serverVersion: string | null;
  pgDumpVersion: string | null;
  entryCount: number | null;
  entries: TocEntry[];
}

// Descriptions of more than one word, longest first.
const MULTI = [
  'MATERIALIZED VIEW DATA',
  'SEQUENCE OWNED BY',
  'TEXT SEARCH CONFIGURATION',
  'TEXT SEARCH DICTIONARY',
  'TEXT SEARCH PARSER',
  'TEXT SEARCH TEMPLATE',
  'FOREIGN DATA WRAPPER',
  'DEFAULT ACL',
  'LARGE OBJECT',
  'MATERIALIZED VIEW',
  'FOREIGN TABLE',
  'FK CONSTRAINT',
  'CHECK CONSTRAINT',
  'TABLE DATA',
  'SEQUENCE SET',
  'EVENT TRIGGER',
  'PUBLICATION TABLE',
  'PUBLICATION TABLES IN SCHEMA',
  'ROW SECURITY',
  'SHELL TYPE',
  'USER MAPPING',
  'ACCESS METHOD',
  'OPERATOR CLASS',
  'OPERATOR FAMILY',
  'DATABASE PROPERTIES',
  'BLOB METADATA',
].sort((a, b) => b.length - a.length);

/** "2026-11-25 01:30:05 UTC" → ISO 8601 (null when unparseable). */
export const parseTocTime = parsePgTimestamp;

function header(text: string, key: string): string | null {
  const re = new RegExp(`^;\\s+${key}:\\s*(.*)$`, 'm');
  const m = re.exec(text);
  return m ? m[1]!.trim() : null;
}

export function parseEntryLine(line: string): TocEntry | null {
  const m = /^(\d+);\s+(\d+)\s+(\d+)\s+(.+)$/.exec(line.trim());
  if (!m) return null;
  const rest = m[4]!;
  let desc = MULTI.find((d) => rest === d || rest.startsWith(`${d} `));
  if (!desc) desc = rest.split(' ')[0]!;
  const tokens = rest.slice(desc.length).trim().split(' ').filter((t) => t.length > 0);
  let schema: string | null = null;
  let owner: string | null = null;
  let name = '';
  if (tokens.length >= 3) {
    schema = tokens[0] === '-' ? null : tokens[0]!;
    owner = tokens[tokens.length - 1]!;
    name = tokens.slice(1, -1).join(' ');
  } else if (tokens.length === 2) {
    schema = tokens[0] === '-' ? null : tokens[0]!;
    name = tokens[1]!;
  } else name = tokens.join(' ');
  return { dumpId: Number(m[1]), desc, schema, name, owner };
}

export function parseToc(text: string): Toc {
  const created = /^;\s*Archive created at (.+)$/m.exec(text);
  const count = header(text, 'TOC Entries');
  const entries: TocEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith(';') || line.trim() === '') continue;
    const e = parseEntryLine(line);
    if (e) entries.push(e);
  }
  return {
    createdAt: created ? parseTocTime(created[1]!) : null,
    dbname: header(text, 'dbname'),
    format: header(text, 'Format'),
    compression: header(text, 'Compression'),
    dumpVersion: header(text, 'Dump Version'),
    serverVersion: header(text, 'Dumped from database version'),
    pgDumpVersion: header(text, 'Dumped by pg_dump version'),
    entryCount: count !== null && /^\d+$/.test(count) ? Number(count) : null,
    entries,
  };
}

export interface DumpTable {
  schema: string;
  name: string;
  hasData: boolean;
}

/** Tables (and their data entries) in a TOC. */
export function tocTables(toc: Toc): DumpTable[] {
  const tables = new Map<string, DumpTable>();
  for (const e of toc.entries) {
    if (e.desc === 'TABLE' && e.schema) tables.set(`${e.schema}.${e.name}`, { schema: e.schema, name: e.name, hasData: false });
  }
  for (const e of toc.entries) {
    if (e.desc === 'TABLE DATA' && e.schema) {
      const t = tables.get(`${e.schema}.${e.name}`);
      if (t) t.hasData = true;
    }
  }
  return [...tables.values()];
}
