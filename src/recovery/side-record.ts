// The record a verified side schema carries: after copy back and verify,
// undrop writes the checksums it proved into a COMMENT ON SCHEMA (not a
// table: the schema stays only the recovered tables and can be emptied and
// dropped by replace). `undrop promote` reads it back and recomputes the
// checksums before promoting, so a side schema that changed since it was
// verified (someone edited the rows) is refused.
import type pg from 'pg';
import { usageError } from '../errors.js';
import { quoteIdent, quoteLiteral } from '../postgres/identifiers.js';

const MARK = 'undrop verified side schema ';

export interface SideSchemaRecord {
  version: 1;
  verifiedAt: string;
  source: string;
  recoveryPoint: { time: string | null; lsn: string | null };
  report: string;
  tables: { name: string; original: { schema: string; name: string }; recoveredAs: { schema: string; name: string }; rows: number; checksum: string }[];
}

/** The comment text. Pure. */
export function recordComment(r: SideSchemaRecord): string {
  return MARK + JSON.stringify(r);
}

/** The record in a schema comment, or undefined when the comment is not undrop's. Pure. */
export function parseRecordComment(comment: string | null | undefined): SideSchemaRecord | undefined {
  if (!comment?.startsWith(MARK)) return undefined;
  try {
    const r = JSON.parse(comment.slice(MARK.length)) as SideSchemaRecord;
    return r.version === 1 && Array.isArray(r.tables) ? r : undefined;
  } catch {
    return undefined;
  }
}

export async function writeRecord(c: pg.Client, schema: string, r: SideSchemaRecord): Promise<void> {
  await c.query(`COMMENT ON SCHEMA ${quoteIdent(schema)} IS ${quoteLiteral(recordComment(r))}`);
}

/** Read the record of a side schema; exit 2 when the schema is missing or was never verified by undrop. */
export async function readRecord(c: pg.Client, schema: string): Promise<SideSchemaRecord> {
  const r = await c.query<{ comment: string | null }>(`SELECT obj_description(oid, 'pg_namespace') AS comment FROM pg_namespace WHERE nspname = $1`, [schema]);
  if (!r.rows[0]) {
    throw usageError('SIDE_SCHEMA_MISSING', `Schema ${schema} does not exist in production.`, 'Name the side schema a recover run created (its report says which: undrop_YYYYMMDD_HHMMSS), or recover again.');
  }
  const rec = parseRecordComment(r.rows[0].comment);
  if (!rec) {
    throw usageError('SIDE_SCHEMA_NOT_VERIFIED', `Schema ${schema} carries no record of an undrop verification, so undrop cannot prove its tables are the recovered ones.`, 'Promote only side schemas that `undrop recover` copied back and verified; otherwise recover again (it verifies, then promotes).');
  }
  return rec;
}
