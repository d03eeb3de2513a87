// Building pg_restore -L lists that bring back the wanted tables with
// everything that belongs to them. pg_restore -t would leave out primary
// keys, indexes, foreign keys, sequences, identity and setval; instead the
// whole schema (cheap DDL) is restored, data only for the wanted tables, and
// foreign keys only where both ends were recovered.
import type { TocEntry } from './toc.js';

export interface WantedTable {
  schema: string;
  name: string;
}

function key(schema: string | null, name: string): string {
  return `${schema ?? ''}\u0000${name}`;
}

/** The table a "FK CONSTRAINT"/"CONSTRAINT" entry belongs to: its tag is "table constraint". */
export function constraintTable(e: TocEntry): string {
  const i = e.name.indexOf(' ');
  return i > 0 ? e.name.slice(0, i) : e.name;
}

/** TOC line as pg_restore -L expects it (only the dump id matters to pg_restore). */
export function listLine(e: TocEntry): string {
  return `${e.dumpId}; 0 0 ${e.desc} ${e.schema ?? '-'} ${e.name} ${e.owner ?? '-'}`;
}

/** Data entries: the wanted tables' rows and every sequence's value. */
export function dataList(entries: readonly TocEntry[], wanted: readonly WantedTable[]): TocEntry[] {
  const want = new Set(wanted.map((w) => key(w.schema, w.name)));
  return entries.filter((e) => (e.desc === 'TABLE DATA' && want.has(key(e.schema, e.name))) || e.desc === 'SEQUENCE SET');
}

/** Pure: parse "REFERENCES schema.table(" out of an FK's SQL. */
export function referencedTable(sql: string): { schema: string; name: string } | undefined {
  const m = /REFERENCES\s+((?:"(?:[^"]|"")+"|[^\s.("]+)\.)?("(?:[^"]|"")+"|[^\s("]+)\s*\(/i.exec(sql);
  if (!m) return undefined;
  const unq = (s: string) => (s.startsWith('"') ? s.slice(1, -1).replace(/""/g, '"') : s);
  return { schema: m[1] ? unq(m[1].slice(0, -1)) : 'public', name: unq(m[2]!) };
}

/** The wanted tables' own FK entries: only theirs need their SQL read (what they reference); any other is left out unread. */
export function foreignKeysOfWanted(entries: readonly TocEntry[], wanted: readonly WantedTable[]): TocEntry[] {
  const want = new Set(wanted.map((w) => key(w.schema, w.name)));
  return entries.filter((e) => e.desc === 'FK CONSTRAINT' && want.has(key(e.schema, constraintTable(e))));
}

/** FK entries to leave out: those whose table or referenced table is not being recovered. */
export function unwantedForeignKeys(fks: readonly { entry: TocEntry; sql: string }[], wanted: readonly WantedTable[]): TocEntry[] {
  const want = new Set(wanted.map((w) => key(w.schema, w.name)));
  return fks
    .filter(({ entry, sql }) => {
      const ref = referencedTable(sql);
      return !want.has(key(entry.schema, constraintTable(entry))) || !ref || !want.has(key(ref.schema, ref.name));
    })
    .map((f) => f.entry);
}
