// DDL for copy back comes from pg_dump, never from hand-built CREATE TABLE:
// the wanted tables sit alone in the side schema of the materialized
// instance, pg_dump --schema-only takes that schema (tables, owned and
// identity sequences, defaults, comments, indexes, constraints, FKs between
// them), and pg_restore splits it into pre-data (before the rows) and
// post-data (after). FKs to tables that are not recovered are cut from the
// archive's list (pg_restore -l) by constraint OID.
import { writeFile } from 'node:fs/promises';
import { failure } from '../errors.js';
import { join } from 'node:path';
import type { PgBinaries } from '../postgres/binaries.js';
import type { ConnParams } from '../postgres/conninfo.js';
import { pgDumpSchema, pgRestoreList, pgRestoreSql, type SchemaDumpOptions } from '../postgres/programs.js';
import { makeStage, removeStage } from '../postgres/work-dir.js';

/** The TOC of an archive undrop just wrote; a failure here is a failure of the copy back. */
async function tocOf(bin: PgBinaries, archive: string): Promise<string> {
  const r = await pgRestoreList(bin, archive);
  if (r.exitCode !== 0) throw failure('PG_PROGRAM_FAILED', `pg_restore -l ${archive} failed (exit ${r.exitCode}).`, { details: r.stderr.split('\n').slice(-5) });
  return r.stdout;
}

export interface SchemaDdl {
  /** CREATE SCHEMA, tables, sequences, defaults, identity, comments. */
  preData: string;
  /** Primary keys, unique/check/exclusion constraints, indexes, FKs, triggers. */
  postData: string;
  /** The pg_restore -L list used (after filtering); empty when nothing was cut. */
  toc: string;
}

const PG_CONSTRAINT = '2606';

/** Drop the TOC lines of the given pg_constraint OIDs (FK CONSTRAINT entries: "id; 2606 OID FK CONSTRAINT …"). Pure. */
export function filterToc(toc: string, excludeConstraintOids: Iterable<number>): string {
  const exclude = new Set([...excludeConstraintOids].map(String));
  return toc
    .split('\n')
    .filter((line) => {
      const m = /^\s*\d+;\s+(\d+)\s+(\d+)\s/.exec(line);
      if (!m) return true;
      return !(m[1] === PG_CONSTRAINT && exclude.has(m[2]!));
    })
    .join('\n');
}

/**
 * Make pg_restore's SQL text runnable as one simple-protocol query: drop the
 * psql-only \restrict / \unrestrict lines newer pg_dump versions write. Pure.
 */
export function cleanRestoreSql(sql: string): string {
  return sql
    .split('\n')
    .filter((line) => !/^\\(un)?restrict\s+\S+\s*$/.test(line))
    .join('\n');
}

/** Whether the SQL holds anything besides comments and SET / set_config lines. Pure. */
export function hasStatements(sql: string): boolean {
  return sql
    .split('\n')
    .map((l) => l.trim())
    .some((l) => l !== '' && !l.startsWith('--') && !/^SET\s/i.test(l) && !/^SELECT pg_catalog\.set_config\(/i.test(l));
}

export async function schemaDdl(bin: PgBinaries, source: ConnParams, schema: string, o: { workDir: string; excludeConstraintOids?: number[] }): Promise<SchemaDdl> {
  const d = await dumpSchemaSections(bin, source, { schemas: [schema] }, o);
  return { preData: d.preData, postData: d.postData, toc: d.toc };
}

/**
 * pg_dump --schema-only of what `dump` selects, split by pg_restore into
 * pre-data and post-data SQL (cleaned), FKs to tables that are not recovered
 * cut by constraint OID. Shared by the side-schema and the in-place paths.
 */
export async function dumpSchemaSections(
  bin: PgBinaries,
  source: ConnParams,
  dump: Omit<SchemaDumpOptions, 'file'>,
  o: { workDir: string; excludeConstraintOids?: number[] },
): Promise<SchemaDdl> {
  const dir = await makeStage(o.workDir, 'ddl');
  try {
    const archive = join(dir, 'schema.dump');
    await pgDumpSchema(bin, source, { ...dump, file: archive });
    // The table of contents is only needed to cut FKs out; skip a program run when there are none.
    const exclude = o.excludeConstraintOids ?? [];
    let toc = '';
    let list: string | undefined;
    if (exclude.length) {
      toc = filterToc(await tocOf(bin, archive), exclude);
      list = join(dir, 'schema.list');
      await writeFile(list, toc);
    }
    const opts = { listFile: list, noOwner: true, noPrivileges: true };
    const [preData, postData] = await Promise.all([pgRestoreSql(bin, archive, { ...opts, section: 'pre-data' }), pgRestoreSql(bin, archive, { ...opts, section: 'post-data' })]);
    return { preData: cleanRestoreSql(preData), postData: cleanRestoreSql(postData), toc };
  } finally {
    removeStage(dir);
  }
}
