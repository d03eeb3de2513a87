// {{name}} placeholders in runbook commands: the names a runbook may use and
// how they are filled. A name without a value is printed as <name> and listed
// so the reader knows what to fill in.
export const PLACEHOLDERS = {
  os_user: 'the OS user the PostgreSQL server runs as',
  work: 'the restore folder (--restore-dir)',
  socket: "the temporary instance's private socket folder",
  port: "the temporary instance's port (--port)",
  data: "the temporary instance's data folder",
  database: "the lost tables' database (production DSN's)",
  schema: 'the side schema in production (--schema)',
  'pg.bin': 'the PostgreSQL binaries folder',
  'pg.major': 'the PostgreSQL major version',
  'production.dsn': "production's DSN (without its password)",
  'target.xid': 'the destructive transaction (undrop locate, --target xid:N)',
  tables: 'the lost tables (--tables)',
  'tables.dump_args': 'pg_dump -t arguments for the lost tables',
  'tables.set_schema_sql': 'ALTER TABLE … SET SCHEMA for each lost table',
  'tables.count_sql': "a query counting the side schema's rows",
  'tables.oid_sql': 'the lost tables as regclass literals',
  'source.dsn': "the delayed replica's DSN (without its password)",
  'source.wal': 'a folder with the WAL the replica received (the archive, or its pg_wal)',
  'source.wal_archive': 'the WAL archive folder',
  'source.config': "pgBackRest's or Barman's configuration file",
  'source.server': "Barman's server name",
  'source.stanza': 'the pgBackRest stanza',
  backup: 'the base backup folder (--set)',
  set: 'the pgBackRest backup set or Barman backup id (--set)',
  snapshot: "the snapshot's data directory (--set)",
  dump: 'the dump file (--set)',
} as const;

export type PlaceholderName = keyof typeof PLACEHOLDERS;
export type Values = Partial<Record<PlaceholderName, string>>;

const PATTERN = /\{\{\s*([a-z_.]+)\s*\}\}/g;

/** The placeholder names a text uses. */
export function placeholdersIn(text: string): string[] {
  return [...text.matchAll(PATTERN)].map((m) => m[1]!);
}

export function isPlaceholder(name: string): name is PlaceholderName {
  return Object.hasOwn(PLACEHOLDERS, name);
}

/** Fill a text; names without a value become <name> and are added to `missing`. */
export function fill(text: string, values: Values, missing?: Set<string>, escape: (v: string) => string = (v) => v): string {
  return text.replace(PATTERN, (_m, name: string) => {
    const v = isPlaceholder(name) ? values[name] : undefined;
    if (v === undefined) {
      missing?.add(name);
      return `<${name}>`;
    }
    return escape(v);
  });
}

export const regexEscape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
