// DDL for copy back from a read-only source read in place (a paused
// replica): nothing can be moved into a staging schema there, so pg_dump
// --schema-only takes the tables where they are (-t each: with their owned
// and identity sequences, defaults, comments, indexes, constraints,
// triggers, FKs), and the qualified names of exactly those objects — the
// tables, their sequences, their indexes — are rewritten to the staging
// schema. Everything else they refer to (types, functions, other tables)
// keeps its schema, as in the dump of a staging schema (ddl.ts).
import type pg from 'pg';
import type { PgBinaries } from '../postgres/binaries.js';
import type { ConnParams } from '../postgres/conninfo.js';
import { quoteIdent } from '../postgres/identifiers.js';
import type { ResolvedTable, SequenceState } from './catalog.js';
import { dumpSchemaSections, type SchemaDdl } from './ddl.js';

export interface QualifiedName {
  schema: string;
  name: string;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The spellings pg_dump may give one identifier: always quoted, and bare when it is a plain lower-case name. */
function spellings(id: string): string[] {
  const quoted = quoteIdent(id);
  return /^[a-z_][a-z0-9_$]*$/.test(id) ? [quoted, id] : [quoted];
}

/**
 * Rewrite `schema.name` (any spelling pg_dump uses, also inside a quoted
 * regclass literal) of each object to `"to".name`. A name is matched only
 * whole: `public.t` is not part of `public.t2` or `x.public.t`. Pure.
 */
export function moveNames(sql: string, objects: readonly QualifiedName[], to: string): string {
  let out = sql;
  for (const o of objects) {
    const alt = (id: string) => `(?:${spellings(id).map(escapeRe).join('|')})`;
    const re = new RegExp(`(?<![\\w$."])${alt(o.schema)}\\.${alt(o.name)}(?![\\w$"])`, 'g');
    out = out.replace(re, () => `${quoteIdent(to)}.${quoteIdent(o.name)}`);
  }
  return out;
}

/** What moves with the tables: their owned/identity sequences and their indexes (names in the tables' schemas). */
export async function objectsOf(c: pg.Client, tables: readonly ResolvedTable[]): Promise<{ sequences: QualifiedName[]; indexes: QualifiedName[] }> {
  const oids = tables.map((t) => t.oid);
  const seq = await c.query<{ s: string; n: string }>(
    `SELECT DISTINCT n.nspname AS s, s.relname AS n FROM pg_depend d JOIN pg_class s ON s.oid = d.objid JOIN pg_namespace n ON n.oid = s.relnamespace
      WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = ANY($1::oid[]) AND d.deptype IN ('a', 'i') AND s.relkind = 'S'
      ORDER BY 1, 2`,
    [oids],
  );
  const idx = await c.query<{ s: string; n: string }>(
    `SELECT n.nspname AS s, i.relname AS n FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_namespace n ON n.oid = i.relnamespace WHERE x.indrelid = ANY($1::oid[]) ORDER BY 1, 2`,
    [oids],
  );
  return { sequences: seq.rows.map((r) => ({ schema: r.s, name: r.n })), indexes: idx.rows.map((r) => ({ schema: r.s, name: r.n })) };
}

/** Each sequence's value where it is (a hot standby reads them; nothing is written). */
export async function sequenceStates(c: pg.Client, sequences: readonly QualifiedName[]): Promise<SequenceState[]> {
  const out: SequenceState[] = [];
  for (const s of sequences) {
    const v = await c.query<{ last_value: string; is_called: boolean }>(`SELECT last_value::text AS last_value, is_called FROM ${quoteIdent(s.schema)}.${quoteIdent(s.name)}`);
    out.push({ schema: s.schema, name: s.name, lastValue: v.rows[0]!.last_value, isCalled: v.rows[0]!.is_called });
  }
  return out;
}

/**
 * pg_dump --schema-only -t of the tables on the read-only source, as pre-data
 * (with the staging schema's CREATE SCHEMA first) and post-data naming the
 * staging schema. FKs to tables that are not recovered are cut by OID, as in ddl.ts.
 */
export async function schemaDdlInPlace(
  bin: PgBinaries,
  source: ConnParams,
  tables: readonly ResolvedTable[],
  moved: readonly QualifiedName[],
  staging: string,
  o: { workDir: string; excludeConstraintOids?: number[] },
): Promise<SchemaDdl> {
  // never waits long for a lock: the tables are the replica's own, read while replay is paused
  const d = await dumpSchemaSections(bin, source, { tables: tables.map((t) => ({ schema: t.schema, name: t.name })), lockWaitSec: 10 }, o);
  const names = [...tables.map((t) => ({ schema: t.schema, name: t.name })), ...moved];
  return {
    preData: `CREATE SCHEMA ${quoteIdent(staging)};\n${moveNames(d.preData, names, staging)}`,
    postData: moveNames(d.postData, names, staging),
    toc: d.toc,
  };
}
