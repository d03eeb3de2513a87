// Catalog look-ups for copy back and promote. Names are passed as query
// parameters and compared exactly (no search_path, no case folding), so any
// identifier (quotes, semicolons, mixed case) is matched as the user wrote it.
import type pg from 'pg';
import { usageError } from '../errors.js';
import { displayName, quoteIdent, type TableName } from '../postgres/identifiers.js';

export interface ResolvedTable {
  schema: string;
  name: string;
  oid: number;
}

const RELKIND: Record<string, string> = { v: 'a view', m: 'a materialized view', f: 'a foreign table', p: 'a partitioned table', S: 'a sequence', i: 'an index' };

/** Find each table in the source; every missing one is listed in one exit-2 error, before anything is written. */
export async function resolveTables(client: pg.Client, tables: TableName[], where: string): Promise<ResolvedTable[]> {
  const out: ResolvedTable[] = [];
  const missing: string[] = [];
  const wrongKind: string[] = [];
  for (const t of tables) {
    const schema = t.schema ?? 'public';
    const r = await client.query<{ oid: number; relkind: string }>(
      `SELECT c.oid::int AS oid, c.relkind::text AS relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
      [schema, t.name],
    );
    const row = r.rows[0];
    if (!row) missing.push(displayName({ schema, name: t.name }));
    else if (row.relkind !== 'r') wrongKind.push(`${displayName({ schema, name: t.name })} is ${RELKIND[row.relkind] ?? `relkind ${row.relkind}`}`);
    else if (!out.some((o) => o.oid === row.oid)) out.push({ schema, name: t.name, oid: row.oid });
  }
  if (missing.length) {
    throw usageError('TABLE_NOT_IN_SOURCE', `${missing.join(', ')} ${missing.length === 1 ? 'does' : 'do'} not exist in ${where}.`, 'Check the spelling (names with capitals or spaces need double quotes: "Sales"."Order Items") and that the source is from before the table was created or dropped.');
  }
  if (wrongKind.length) {
    throw usageError('TABLE_KIND_UNSUPPORTED', `Only ordinary tables can be copied back: ${wrongKind.join('; ')}.`, 'Name the tables themselves (for a partitioned table, its partitions).');
  }
  const byName = new Map<string, ResolvedTable[]>();
  for (const t of out) byName.set(t.name, [...(byName.get(t.name) ?? []), t]);
  const clash = [...byName.values()].filter((l) => l.length > 1);
  if (clash.length) {
    throw usageError('TABLE_NAME_CLASH', `Tables from different schemas share a name and cannot land in one side schema: ${clash.map((l) => l.map((t) => displayName(t)).join(' and ')).join('; ')}.`, 'Recover them in separate runs with different --schema names.');
  }
  return out;
}

/** Copyable columns in table order (no dropped or generated columns). */
export async function copyColumns(client: pg.Client, oid: number): Promise<string[]> {
  const r = await client.query<{ attname: string }>(
    `SELECT attname FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`,
    [oid],
  );
  return r.rows.map((x) => x.attname);
}

export interface ForeignKeyInfo {
  oid: number;
  name: string;
  /** The table that holds the constraint. */
  table: ResolvedTable;
  /** The table it references. */
  references: { schema: string; name: string };
  definition: string;
}

/** FKs from the wanted tables to tables that are not recovered: left out of the copy, and reported. */
export async function foreignKeysLeavingSet(client: pg.Client, tables: ResolvedTable[]): Promise<ForeignKeyInfo[]> {
  const oids = tables.map((t) => t.oid);
  const r = await client.query<{ oid: number; conname: string; conrelid: number; nspname: string; relname: string; def: string }>(
    `SELECT con.oid::int AS oid, con.conname, con.conrelid::int AS conrelid, n.nspname, c.relname, pg_get_constraintdef(con.oid) AS def
       FROM pg_constraint con JOIN pg_class c ON c.oid = con.confrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE con.contype = 'f' AND con.conrelid = ANY($1::oid[]) AND NOT (con.confrelid = ANY($1::oid[]))
      ORDER BY con.conrelid, con.conname`,
    [oids],
  );
  return r.rows.map((x) => ({ oid: x.oid, name: x.conname, table: tables.find((t) => t.oid === x.conrelid)!, references: { schema: x.nspname, name: x.relname }, definition: x.def }));
}

/** FKs on live tables (outside the given set) that reference one of the given tables. */
export async function foreignKeysInto(client: pg.Client, oids: number[]): Promise<{ oid: number; name: string; table: { schema: string; name: string }; referenced: number; definition: string }[]> {
  const r = await client.query<{ oid: number; conname: string; nspname: string; relname: string; confrelid: number; def: string }>(
    `SELECT con.oid::int AS oid, con.conname, n.nspname, c.relname, con.confrelid::int AS confrelid, pg_get_constraintdef(con.oid) AS def
       FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE con.contype = 'f' AND con.confrelid = ANY($1::oid[]) AND NOT (con.conrelid = ANY($1::oid[]))
      ORDER BY n.nspname, c.relname, con.conname`,
    [oids],
  );
  return r.rows.map((x) => ({ oid: x.oid, name: x.conname, table: { schema: x.nspname, name: x.relname }, referenced: x.confrelid, definition: x.def }));
}

export interface SequenceState {
  schema: string;
  name: string;
  lastValue: string;
  isCalled: boolean;
}

/** Every sequence in a schema with its current value (owned, identity and free-standing alike). */
export async function sequencesIn(client: pg.Client, schema: string): Promise<SequenceState[]> {
  const r = await client.query<{ relname: string }>(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'S' ORDER BY c.relname`,
    [schema],
  );
  const out: SequenceState[] = [];
  for (const { relname } of r.rows) {
    const v = await client.query<{ last_value: string; is_called: boolean }>(`SELECT last_value::text AS last_value, is_called FROM ${quoteIdent(schema)}.${quoteIdent(relname)}`);
    out.push({ schema, name: relname, lastValue: v.rows[0]!.last_value, isCalled: v.rows[0]!.is_called });
  }
  return out;
}

export async function schemaExists(client: pg.Client, schema: string): Promise<boolean> {
  const r = await client.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [schema]);
  return (r.rowCount ?? 0) > 0;
}

export async function tableOid(client: pg.Client, schema: string, name: string): Promise<number | undefined> {
  const r = await client.query<{ oid: number }>(
    `SELECT c.oid::int AS oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`,
    [schema, name],
  );
  return r.rows[0]?.oid;
}
