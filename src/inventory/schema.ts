// The inventory (undrop.yaml) as data: one schema per source kind. Adding a
// source kind touches src/sources/ and this file only.
import * as z from 'zod';
import { parseDuration, parseSize } from './units.js';
import { type VerifyConfig, verifySchema } from './verify-schema.js';

const duration = z.string().refine((s) => parseDuration(s) !== undefined, { message: 'expected a duration such as "26h", "90min" or "7d"' });
const size = z.union([z.number(), z.string()]).refine((s) => parseSize(s) !== undefined, { message: 'expected a size such as "1GB" or "500MB"' });
const pathList = z.array(z.string().min(1), { message: 'expected a list' }).min(1, { message: 'expected at least one path' });

/** Settings every source may carry. */
const common = {
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: 'expected a name of letters, digits, "_", "." or "-"' }),
  max_age: duration.optional(),
  min_size: size.optional(),
  timeout: duration.optional(),
  /** Fewer rows than this over the source's tables (where counted) is unhealthy. */
  min_rows: z.number().int().min(0).optional(),
  /** A restore test slower than this is unhealthy. */
  max_verify_duration: duration.optional(),
  /** Committed work older than this that the source cannot give back (now minus its recovery point) is unhealthy. */
  max_loss_window: duration.optional(),
  verify: verifySchema.optional(),
  description: z.string().optional(),
};

export const sourceSchemas = {
  'delayed-replica': z.strictObject({ ...common, kind: z.literal('delayed-replica'), dsn: z.string().min(1), data_dir: z.string().optional() }),
  pitr: z
    .strictObject({
      ...common,
      kind: z.literal('pitr'),
      base_backups: z.string().min(1),
      wal_archive: z.string().min(1).optional(),
      restore_command: z.string().min(1).optional(),
    })
    .refine((s) => s.wal_archive !== undefined || s.restore_command !== undefined, { message: 'needs wal_archive or restore_command', path: ['wal_archive'] }),
  pgbackrest: z.strictObject({ ...common, kind: z.literal('pgbackrest'), stanza: z.string().min(1), config: z.string().optional(), repo: z.number().int().positive().optional() }),
  barman: z.strictObject({
    ...common,
    kind: z.literal('barman'),
    /** Barman's server name (the [section] in its configuration). */
    server: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: 'expected a Barman server name' }),
    /** Barman's configuration file; default: Barman's own lookup (~/.barman.conf, /etc/barman.conf, …). */
    config: z.string().optional(),
    /** The OS user Barman runs as (its barman_user); files it restores are handed to the server OS user. */
    barman_user: z.string().regex(/^[a-z_][a-z0-9_-]*$/, { message: 'expected an OS user name' }).optional(),
  }),
  snapshot: z.strictObject({ ...common, kind: z.literal('snapshot'), paths: pathList, superuser: z.string().optional() }),
  dump: z.strictObject({ ...common, kind: z.literal('dump'), paths: pathList }),
} as const;

export type SourceKind = keyof typeof sourceSchemas;
export const SOURCE_KINDS = Object.keys(sourceSchemas) as SourceKind[];

export type SourceConfig = {
  [K in SourceKind]: z.infer<(typeof sourceSchemas)[K]>;
}[SourceKind];
export type SourceConfigOf<K extends SourceKind> = z.infer<(typeof sourceSchemas)[K]>;

export const inventoryTop = z.strictObject({
  production: z.strictObject({ dsn: z.string().optional(), superuser: z.string().optional() }).optional(),
  sources: z.array(z.unknown(), { message: 'expected a list' }).default([]),
  work_dir: z.string().optional(),
  pg_bin: z.string().optional(),
  lab: z.record(z.string(), z.unknown()).optional(),
  verify: verifySchema.optional(),
});

export interface Inventory {
  /** The file it came from; relative paths in it are resolved against its folder. */
  file: string;
  production: { dsn?: string; superuser?: string };
  sources: SourceConfig[];
  workDir?: string;
  pgBin?: string;
  lab?: Record<string, unknown>;
  /** The global `verify:` block (each source's own overrides it). */
  verify?: VerifyConfig;
}
