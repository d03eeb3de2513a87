// pg_restore's post-data script, split so each table's keys and indexes can
// be built on that table's own loading connection (in parallel with the
// other tables) and the rest (foreign keys between recovered tables,
// triggers, comments on indexes …) afterwards, once every table is built.
// Anything this cannot attribute to one table goes to the rest: the split
// may lose parallelism, never order.

export interface PostDataSplit {
  /** The SET lines before the first object: run before any part. */
  header: string;
  /** Table name (unquoted, in the side schema) → its CONSTRAINT and INDEX blocks. */
  perTable: Map<string, string>;
  /** Everything else, in pg_restore's order. */
  after: string;
}

const IDENT = String.raw`(?:"(?:[^"]|"")*"|[^\s."(]+)`;
const QUALIFIED = String.raw`(${IDENT})\.(${IDENT})`;
const ALTER_TABLE = new RegExp(String.raw`^ALTER TABLE (?:ONLY )?${QUALIFIED}\s`, 'm');
const CREATE_INDEX = new RegExp(String.raw`^CREATE (?:UNIQUE )?INDEX ${IDENT} ON (?:ONLY )?${QUALIFIED} `, 'm');

function unquote(id: string): string {
  return id.startsWith('"') ? id.slice(1, -1).replace(/""/g, '"') : id;
}

/** The table a CONSTRAINT or INDEX block is built on, when it is in `schema`. Pure. */
function tableOf(type: string, block: string, schema: string): string | undefined {
  const m = type === 'CONSTRAINT' ? ALTER_TABLE.exec(block) : type === 'INDEX' ? CREATE_INDEX.exec(block) : null;
  if (!m || unquote(m[1]!) !== schema) return undefined;
  return unquote(m[2]!);
}

/** Split a post-data script (pg_restore text output) by table. Pure. */
export function splitPostData(sql: string, schema: string, tables: string[]): PostDataSplit {
  const lines = sql.split('\n');
  const starts: number[] = [];
  for (let i = 1; i < lines.length; i++) if (lines[i]!.startsWith('-- Name: ') && lines[i - 1] === '--') starts.push(i - 1);
  const header = lines.slice(0, starts[0] ?? lines.length).join('\n');
  const perTable = new Map<string, string>();
  const after: string[] = [];
  const wanted = new Set(tables);
  starts.forEach((s, k) => {
    const block = lines.slice(s, starts[k + 1] ?? lines.length).join('\n');
    const type = /; Type: ([A-Z ]+);/.exec(lines[s + 1]!)?.[1] ?? '';
    const table = tableOf(type, block, schema);
    if (table !== undefined && wanted.has(table)) perTable.set(table, `${perTable.get(table) ?? ''}${block}\n`);
    else after.push(block);
  });
  return { header, perTable, after: after.join('\n') };
}
