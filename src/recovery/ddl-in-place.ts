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
import { quoteIdent, quoteLiteral } from '../postgres/identifiers.js';
import type { ScanToken } from 'libpg-query';
import type { ResolvedTable, SequenceState } from './catalog.js';
import { dumpSchemaSections, type SchemaDdl } from './ddl.js';

// PostgreSQL's scanner (libpg-query, WebAssembly): imported and initialised by
// loadSqlScanner, only when names are moved (a paused replica read in place).
let scanner: typeof import('libpg-query') | undefined;

function scanSync(sql: string): { tokens: ScanToken[] } {
  if (!scanner) throw new Error('moveNames: loadSqlScanner() first');
  return scanner.scanSync(sql);
}

export interface QualifiedName {
  schema: string;
  name: string;
}

/** A token that names something: an identifier, or a keyword used as one (pg_dump leaves unreserved ones bare). */
const isName = (t: ScanToken | undefined): t is ScanToken => !!t && (t.tokenName === 'IDENT' || t.keywordKind !== 0);
const isDot = (t: ScanToken | undefined) => t?.text === '.';

/** The identifier a name token spells: quoted as written (with "" undoubled), bare folded to lower case. */
function identifier(text: string): string {
  return text.startsWith('"') ? text.slice(1, -1).replace(/""/g, '"') : text.toLowerCase();
}

/** `schema.name` starting at token i (not preceded by a dot: x.public.t is another name), or undefined. */
function qualifiedAt(tokens: readonly ScanToken[], i: number): QualifiedName | undefined {
  const [a, dot, b] = [tokens[i], tokens[i + 1], tokens[i + 2]];
  if (!isName(a) || !isDot(dot) || !isName(b) || isDot(tokens[i - 1])) return undefined;
  return { schema: identifier(a.text), name: identifier(b.text) };
}

/**
 * Rewrite `schema.name` of each object to `"to"."name"`, where the SQL names
 * it: as qualified identifiers (any spelling) and inside a `'…'::regclass`
 * literal (sequence defaults). Tokens come from PostgreSQL's own scanner
 * (libpg-query), so string literals (a COMMENT's text), quoted identifiers
 * and comments are never rewritten, and a name matches only whole. Needs
 * loadSqlScanner() first.
 */
export function moveNames(sql: string, objects: readonly QualifiedName[], to: string): string {
  const key = (q: QualifiedName) => `${q.schema}\u0000${q.name}`;
  const wanted = new Set(objects.map(key));
  const target = (q: QualifiedName | undefined) => (q && wanted.has(key(q)) ? `${quoteIdent(to)}.${quoteIdent(q.name)}` : undefined);
  const tokens = scanSync(sql).tokens;
  const edits: { start: number; end: number; text: string }[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const moved = target(qualifiedAt(tokens, i));
    if (moved) {
      edits.push({ start: t.start, end: tokens[i + 2]!.end, text: moved });
      i += 2;
    } else if (t.tokenName === 'SCONST' && tokens[i + 1]?.tokenName === 'TYPECAST' && tokens[i + 2]?.text.toLowerCase() === 'regclass') {
      // pg_dump writes a regclass as '<schema>.<name>' with both parts quoted as needed
      const inner = scanSync(t.text.slice(1, -1).replace(/''/g, "'")).tokens;
      const regclass = inner.length === 3 ? target(qualifiedAt(inner, 0)) : undefined;
      if (regclass) edits.push({ start: t.start, end: t.end, text: quoteLiteral(regclass) });
    }
  }
  // the scanner's offsets are in bytes of the UTF-8 text
  let buf = Buffer.from(sql, 'utf8');
  for (const e of edits.reverse()) buf = Buffer.concat([buf.subarray(0, e.start), Buffer.from(e.text, 'utf8'), buf.subarray(e.end)]);
  return buf.toString('utf8');
}

let loading: Promise<void> | undefined;

/** Load PostgreSQL's scanner (WebAssembly; ~0.2 s of CPU) once, before moveNames: recover starts it early for a replica read in place. */
export function loadSqlScanner(): Promise<void> {
  loading ??= (async () => {
    const lib = await import('libpg-query');
    await lib.loadModule();
    scanner = lib;
  })();
  return loading;
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
  const [d] = await Promise.all([dumpSchemaSections(bin, source, { tables: tables.map((t) => ({ schema: t.schema, name: t.name })), lockWaitSec: 10 }, o), loadSqlScanner()]);
  const names = [...tables.map((t) => ({ schema: t.schema, name: t.name })), ...moved];
  return {
    preData: `CREATE SCHEMA ${quoteIdent(staging)};\n${moveNames(d.preData, names, staging)}`,
    postData: moveNames(d.postData, names, staging),
    toc: d.toc,
  };
}
