// --on-conflict rekey-live: the live rows that took a lost row's key (written
// after a DROP + recreate restarted the keys) get new keys past the highest
// key of either table, drawn from the column's own sequence or identity when
// it has one, so the application carries on without a clash. Rows of other
// tables that reference them follow through ON UPDATE CASCADE; a referencing
// foreign key without it makes rekeying refuse, naming the tables, before
// anything is written. Runs inside the caller's merge transaction.
import type pg from 'pg';
import { usageError } from '../errors.js';
import { displayName, quoteIdent, quoteLiteral } from '../postgres/identifiers.js';
import { conflictsTableName, keyColumnAliases } from './merge-conflicts.js';

type Rel = { schema: string; name: string };
const q = quoteIdent;
const qn = (t: Rel) => `${q(t.schema)}.${q(t.name)}`;

export interface FollowedForeignKey {
  table: string;
  constraint: string;
  /** Referencing rows that pointed at a rekeyed live row (they followed it). */
  rows: number;
}

export interface RekeyResult {
  column: string;
  /** Live rows that got a new key. */
  rows: number;
  /** Lowest and highest new key. */
  newKeys: { first: string; last: string } | null;
  /** Where the new keys came from. */
  sequence: string | null;
  followed: FollowedForeignKey[];
}

const INTEGER_TYPES = ['smallint', 'integer', 'bigint'];

export async function rekeyLive(c: pg.Client, live: Rel & { oid: number }, recovered: Rel, key: string[]): Promise<RekeyResult> {
  if (key.length !== 1) {
    throw usageError('MERGE_REKEY_UNSUPPORTED', `${displayName(live)} has a composite primary key (${key.join(', ')}); undrop can only give new keys to a single integer key column.`, `Use --on-conflict keep-live, or resolve the pairs in ${displayName(conflictsTableName(recovered))} by hand.`);
  }
  const col = key[0]!;
  const att = (await c.query<{ attnum: number; type: string; identity: string }>(
    `SELECT attnum::int AS attnum, atttypid::regtype::text AS type, attidentity::text AS identity FROM pg_attribute WHERE attrelid = $1 AND attname = $2`,
    [live.oid, col],
  )).rows[0]!;
  if (!INTEGER_TYPES.includes(att.type)) {
    throw usageError('MERGE_REKEY_UNSUPPORTED', `The key of ${displayName(live)} (${col}) is ${att.type}; undrop gives new keys only to integer keys.`, `Use --on-conflict keep-live, or resolve the pairs in ${displayName(conflictsTableName(recovered))} by hand.`);
  }
  const conflicts = conflictsTableName(recovered);
  const alias = q(keyColumnAliases(key)[0]!);
  const taken = `(SELECT ${alias} FROM ${qn(conflicts)} WHERE kind = 'key')`;

  // Every foreign key that references this column, and how many rows would have to follow.
  const fks = (await c.query<{ conname: string; child: string; childcol: string; upd: string }>(
    `SELECT con.conname, con.conrelid::regclass::text AS child, a.attname AS childcol, con.confupdtype::text AS upd
       FROM pg_constraint con JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
      WHERE con.contype = 'f' AND con.confrelid = $1 AND con.confkey = ARRAY[$2::int2]
      ORDER BY 2, 1`,
    [live.oid, att.attnum],
  )).rows;
  const followed: FollowedForeignKey[] = [];
  const blocking: string[] = [];
  for (const fk of fks) {
    const n = Number((await c.query<{ n: string }>(`SELECT count(*)::bigint AS n FROM ${fk.child} WHERE ${q(fk.childcol)} IN ${taken}`)).rows[0]!.n);
    if (n === 0) continue;
    if (fk.upd === 'c') followed.push({ table: fk.child, constraint: fk.conname, rows: n });
    else blocking.push(`${fk.child} (${fk.conname}): ${n} row(s) reference the live rows that would get new keys`);
  }
  if (blocking.length) {
    throw usageError('MERGE_REKEY_REFERENCED', `Rekeying ${displayName(live)} would break rows of other tables that reference it without ON UPDATE CASCADE. Nothing was changed.`, 'Add ON UPDATE CASCADE to those foreign keys (or move their rows yourself), then run again; or use --on-conflict keep-live.', blocking);
  }

  const top = (await c.query<{ top: string | null }>(`SELECT GREATEST((SELECT max(${q(col)}) FROM ${qn(live)}), (SELECT max(${q(col)}) FROM ${qn(recovered)}))::text AS top`)).rows[0]!.top ?? '0';
  const seq = (await c.query<{ seq: string | null }>(`SELECT pg_get_serial_sequence($1, $2) AS seq`, [qn(live), col])).rows[0]!.seq;
  let update: string;
  if (seq) {
    // New keys come from the column's own sequence, moved past both tables first.
    const s = (await c.query<{ last: string; called: boolean }>(`SELECT last_value::text AS last, is_called AS called FROM ${seq}`)).rows[0]!;
    const current = s.called ? BigInt(s.last) : BigInt(s.last) - 1n;
    if (BigInt(top) > current) await c.query(`SELECT setval(${quoteLiteral(seq)}::regclass, $1::bigint, true)`, [top]);
    // An identity column (GENERATED ALWAYS) can only be updated to DEFAULT, which is its sequence.
    const value = att.identity ? 'DEFAULT' : `nextval(${quoteLiteral(seq)}::regclass)`;
    update = `UPDATE ${qn(live)} AS l SET ${q(col)} = ${value} FROM (SELECT DISTINCT ${alias} AS old FROM ${qn(conflicts)} WHERE kind = 'key' ORDER BY 1) AS m WHERE l.${q(col)} = m.old RETURNING m.old::text AS old, l.${q(col)}::text AS new`;
  } else {
    update = `UPDATE ${qn(live)} AS l SET ${q(col)} = m.new FROM (SELECT old, $1::bigint + row_number() OVER (ORDER BY old) AS new FROM (SELECT DISTINCT ${alias} AS old FROM ${qn(conflicts)} WHERE kind = 'key') AS x) AS m WHERE l.${q(col)} = m.old RETURNING m.old::text AS old, l.${q(col)}::text AS new`;
  }
  const moved = (await c.query<{ old: string; new: string }>(update, seq ? [] : [top])).rows;
  await c.query(
    `UPDATE ${qn(conflicts)} AS x SET resolution = 'rekeyed-live', live_new_key = m.new FROM unnest($1::text[], $2::text[]) AS m(old, new) WHERE x.kind = 'key' AND x.${alias}::text = m.old`,
    [moved.map((m) => m.old), moved.map((m) => m.new)],
  );
  const news = moved.map((m) => BigInt(m.new)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    column: col,
    rows: moved.length,
    newKeys: news.length ? { first: news[0]!.toString(), last: news[news.length - 1]!.toString() } : null,
    sequence: seq,
    followed,
  };
}
