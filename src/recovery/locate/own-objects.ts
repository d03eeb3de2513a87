// What undrop itself made in production, read back from the incident folders
// (<work dir>/incidents/*/timeline.jsonl): the side schemas copy back created
// and the relfilenodes of their tables. Dropping them later (as the report
// advises) is housekeeping, never an incident.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface OwnObjects {
  schemas: Set<string>;
  /** relfilenode → schema.table, per database OID (0: unknown database). */
  files: Map<number, Map<number, string>>;
}

/** The timeline entry recover writes after copy back (type "undrop-objects"). */
export interface UndropObjectsEntry {
  schema: string;
  databaseOid: number;
  files: { relfilenode: number; name: string }[];
}

export function readOwnObjects(workDir: string | undefined): OwnObjects {
  const out: OwnObjects = { schemas: new Set(), files: new Map() };
  const root = workDir ? join(workDir, 'incidents') : undefined;
  if (!root || !existsSync(root)) return out;
  for (const d of readdirSync(root)) {
    const file = join(root, d, 'timeline.jsonl');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line.includes('"undrop-objects"') && !line.includes('"key":"copyBack"')) continue;
      try {
        const entry = JSON.parse(line) as { type?: string; key?: string; value?: { schema?: string } } & Partial<UndropObjectsEntry>;
        if (entry.type === 'fact' && entry.key === 'copyBack' && entry.value?.schema) out.schemas.add(entry.value.schema);
        if (entry.type === 'undrop-objects' && entry.schema) {
          out.schemas.add(entry.schema);
          const db = out.files.get(entry.databaseOid ?? 0) ?? new Map<number, string>();
          for (const f of entry.files ?? []) db.set(f.relfilenode, f.name);
          out.files.set(entry.databaseOid ?? 0, db);
        }
      } catch {
        /* a torn last line: skip */
      }
    }
  }
  return out;
}
