// Restore the wanted tables from a custom/tar/directory archive into a
// database: the schema first (cheap DDL), the rows of the wanted tables, then
// indexes and constraints — foreign keys only where both ends came back.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pMap from 'p-map';
import { failure } from '../../errors.js';
import type { PgBinaries } from '../../postgres/binaries.js';
import type { ConnParams } from '../../postgres/conninfo.js';
import type { TableName } from '../../postgres/identifiers.js';
import { pgRestoreSql } from '../../postgres/programs.js';
import { pgRestoreInto } from '../../postgres/restore-programs.js';
import { tail } from '../../postgres/run.js';
import { dataList, foreignKeysOfWanted, listLine, unwantedForeignKeys } from './restore-list.js';
import { type Toc, tocTables } from './toc.js';

export async function restoreArchive(
  bin: PgBinaries,
  conn: ConnParams,
  file: string,
  toc: Toc,
  tables: readonly TableName[],
  listDir: string,
  notes: string[],
  progress: (m: string) => void,
  /**
   * Take the schema (pre-data, indexes, constraints) from this schema-only
   * dump of the whole database instead of `file`: a `pg_dump -t` archive
   * lacks the tables' schema, types, domains, collations and extensions.
   */
  ddl?: { file: string; toc: Toc },
): Promise<void> {
  const ddlFile = ddl?.file ?? file;
  const ddlToc = ddl?.toc ?? toc;
  // No tables named (a restore test): every table of the dump.
  const wanted = tables.length ? tables.map((t) => ({ schema: t.schema ?? 'public', name: t.name })) : tocTables(toc).map((t) => ({ schema: t.schema, name: t.name }));
  await mkdir(listDir, { recursive: true });
  const listPath = (n: string) => join(listDir, n);

  progress('restoring the schema (tables, types, sequences, functions)');
  const pre = await pgRestoreInto(bin, conn, ddlFile, { section: 'pre-data' });
  if (pre.exitCode !== 0) notes.push(`Schema restore reported errors (often missing roles or extensions): ${tail(pre.stderr, 3).join(' | ')}`);

  progress(`restoring the rows of ${wanted.length} table(s)`);
  await writeFile(listPath('data.list'), dataList(toc.entries, wanted).map(listLine).join('\n') + '\n');
  const data = await pgRestoreInto(bin, conn, file, { listFile: listPath('data.list'), exitOnError: true, jobs: 2 });
  if (data.exitCode !== 0) throw failure('DUMP_RESTORE_FAILED', `Restoring the rows from ${file} failed.`, { details: tail(data.stderr) });

  progress('building indexes and constraints');
  // One pg_restore per foreign key of a wanted table (its own SQL says what it references), a few at once: a
  // database's hundreds of foreign keys were hundreds of programs one after the other. The others are left out.
  const fkEntries = ddlToc.entries.filter((e) => e.desc === 'FK CONSTRAINT');
  const fks = await pMap(
    foreignKeysOfWanted(fkEntries, wanted),
    async (entry) => {
      await writeFile(listPath(`fk-${entry.dumpId}.list`), listLine(entry) + '\n');
      return { entry, sql: await pgRestoreSql(bin, ddlFile, { listFile: listPath(`fk-${entry.dumpId}.list`) }) };
    },
    { concurrency: 4 },
  );
  const read = new Set(fks.map((f) => f.entry.dumpId));
  const skip = new Set([...fkEntries.filter((e) => !read.has(e.dumpId)), ...unwantedForeignKeys(fks, wanted)].map((e) => e.dumpId));
  const post = ddlToc.entries.filter((e) => !skip.has(e.dumpId) && e.desc !== 'TABLE DATA');
  await writeFile(listPath('post.list'), post.map(listLine).join('\n') + '\n');
  const r = await pgRestoreInto(bin, conn, ddlFile, { listFile: listPath('post.list'), section: 'post-data' });
  if (r.exitCode !== 0) notes.push(`Index/constraint restore reported errors: ${tail(r.stderr, 3).join(' | ')}`);
  const skipped = fks.filter((f) => skip.has(f.entry.dumpId)).map((f) => f.entry.name.split(' ').pop());
  if (skipped.length) notes.push(`Foreign keys left out because the table they reference was not recovered: ${skipped.join(', ')}.`);
}
