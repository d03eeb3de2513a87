// File lineage: a file no catalog knows, made by a rewrite or TRUNCATE in the
// scanned WAL (a Storage CREATE in a transaction that also unlinked files),
// belongs to the table whose files that transaction replaced — follow the
// chain back until a catalog knows one of them.
import type { EventRelation, FileBirth } from './types.js';

/**
 * Name unnamed relations by lineage. `owners(files)` asks the catalogs which
 * tables own these files. Named only when the chain leads to exactly one table.
 */
export async function nameByLineage(relations: EventRelation[], births: ReadonlyMap<number, FileBirth>, owners: (files: number[]) => Promise<EventRelation[]>, notes: string[]): Promise<EventRelation[]> {
  if (!relations.some((r) => r.name === null)) return relations;
  const out = relations.filter((r) => r.name !== null);
  for (const r of relations.filter((x) => x.name === null)) {
    let birth = births.get(r.relfilenode);
    let owner: EventRelation | undefined;
    for (let hop = 0; birth && birth.replaced.length && hop < 8 && !owner; hop++) {
      const found = await owners(birth.replaced);
      if (found.length > 1) break; // one transaction rewrote several tables: no single ancestor
      if (found.length === 1) owner = found[0];
      else birth = birth.replaced.map((f) => births.get(f)).find((b) => b !== undefined);
    }
    if (!owner) {
      out.push(r);
      continue;
    }
    const same = out.find((x) => x.name === owner!.name);
    if (same) same.files.push(...r.files);
    else {
      out.push({ ...owner, relfilenode: r.relfilenode, files: [...r.files], rows: null, rowsKind: undefined });
      notes.push(`${owner.name}: named by file lineage (file ${r.relfilenode} replaced ${owner.relfilenode} in a rewrite or TRUNCATE in the scanned WAL); its row count at the event is not known.`);
    }
  }
  return out;
}
