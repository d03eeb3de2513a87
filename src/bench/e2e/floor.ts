// The physical floor's row part: one binary COPY per table, straight from
// the recovered instance into an unindexed table of the same columns in a
// scratch database on production: nothing a recovery could skip.
import { withClient } from '../../postgres/connect.js';
import type { ConnParams } from '../../postgres/conninfo.js';
import { quoteIdent } from '../../postgres/identifiers.js';
import { copyTable } from '../../recovery/copy-data.js';

export async function rawCopyMs(from: ConnParams, to: ConnParams, tables: { schema: string; name: string }[]): Promise<number> {
  return withClient(from, (src) =>
    withClient(to, async (dst) => {
      let ms = 0;
      for (const t of tables) {
        const cols = await src.query<{ def: string; name: string }>(
          `SELECT quote_ident(attname) || ' ' || format_type(atttypid, atttypmod) AS def, quote_ident(attname) AS name FROM pg_attribute
           WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`,
          [`${quoteIdent(t.schema)}.${quoteIdent(t.name)}`],
        );
        const target = quoteIdent(`floor_${t.name}`);
        await dst.query(`DROP TABLE IF EXISTS ${target}; CREATE TABLE ${target} (${cols.rows.map((c) => c.def).join(', ')})`);
        const list = cols.rows.map((c) => c.name).join(', ');
        const stats = await copyTable(src, dst, {
          out: `COPY ${quoteIdent(t.schema)}.${quoteIdent(t.name)} (${list}) TO STDOUT (FORMAT binary)`,
          in: `COPY ${target} (${list}) FROM STDIN (FORMAT binary)`,
        });
        ms += stats.durationMs;
        await dst.query(`DROP TABLE ${target}`);
      }
      return ms;
    }, { statementTimeoutMs: 0 }),
  { statementTimeoutMs: 0 });
}
