// Side schema names: undrop_YYYYMMDD_HHMMSS by default, or the user's own.
import { usageError } from '../errors.js';
import { stamp } from '../util/time.js';

/** PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1). */
export const MAX_IDENTIFIER_BYTES = 63;

export function sideSchemaName(given: string | undefined, now = new Date()): string {
  if (given === undefined) return `undrop_${stamp(now)}`;
  if (given.length === 0) throw usageError('SCHEMA_NAME_INVALID', '--schema needs a name.', 'For example --schema recovered, or leave it out for undrop_YYYYMMDD_HHMMSS.');
  if (Buffer.byteLength(given, 'utf8') > MAX_IDENTIFIER_BYTES) {
    throw usageError('SCHEMA_NAME_INVALID', `--schema ${given} is longer than ${MAX_IDENTIFIER_BYTES} bytes; PostgreSQL would cut it short.`, 'Choose a shorter name.');
  }
  if (/^pg_/i.test(given) || given === 'information_schema') {
    throw usageError('SCHEMA_NAME_INVALID', `--schema ${given} is reserved for PostgreSQL's own schemas.`, 'Choose a name that does not start with pg_.');
  }
  return given;
}

/**
 * `base` + `suffix`, shortened so the result fits in 63 bytes (whole
 * characters only), so PostgreSQL never truncates it into a clash. Pure.
 */
export function withSuffix(base: string, suffix: string): string {
  const room = MAX_IDENTIFIER_BYTES - Buffer.byteLength(suffix, 'utf8');
  let cut = base;
  while (Buffer.byteLength(cut, 'utf8') > room) cut = [...cut].slice(0, -1).join('');
  return cut + suffix;
}
