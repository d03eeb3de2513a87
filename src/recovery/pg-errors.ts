// PostgreSQL errors met while writing to production, as clear UndropErrors.
import { UndropError, failure, usageError } from '../errors.js';

export interface PgErrorLike {
  code?: string;
  message?: string;
  detail?: string;
  hint?: string;
  where?: string;
}

export function isConnectionLost(e: unknown): boolean {
  const err = e as PgErrorLike;
  if (err?.code && ['57P01', '57P02', '57P03', '08000', '08003', '08006', 'ECONNRESET', 'EPIPE'].includes(err.code)) return true;
  return /Connection terminated|connection (was )?(closed|lost)|Client was closed|not queryable|terminating connection/i.test(String(err?.message ?? e));
}

export function isLockTimeout(e: unknown): boolean {
  return (e as PgErrorLike)?.code === '55P03';
}

function pgDetails(e: PgErrorLike): string[] {
  const out: string[] = [];
  if (e.message) out.push(`ERROR:  ${e.message}`);
  if (e.detail) out.push(`DETAIL:  ${e.detail}`);
  if (e.hint) out.push(`HINT:  ${e.hint}`);
  if (e.where) out.push(`CONTEXT:  ${e.where.split('\n')[0]}`);
  return out;
}

/**
 * A failure while production was being written. PostgreSQL rolled the
 * transaction back, so production is as it was: the message says so.
 */
export function productionWriteError(e: unknown, step: string): UndropError {
  if (e instanceof UndropError) return e;
  const err = (e ?? {}) as PgErrorLike;
  if (isConnectionLost(e)) {
    return failure('PRODUCTION_CONNECTION_LOST', `The connection to production was lost during ${step}. PostgreSQL rolled the transaction back: nothing was written.`, {
      hint: 'Check that production is up and reachable (pg_isready), then run the same command again.',
      details: pgDetails(err),
      cause: e,
    });
  }
  if (err.code === '42P06') {
    return usageError('SIDE_SCHEMA_EXISTS', `Schema already exists in production (${err.message ?? ''}); it is never overwritten.`, 'Choose another name with --schema, or drop the old side schema once you no longer need it.');
  }
  if (isLockTimeout(e)) {
    return failure('LIVE_TABLE_BUSY', `A table was locked by another session during ${step}; gave up waiting. Nothing was changed.`, {
      hint: 'Find the session (SELECT pid, state, query FROM pg_stat_activity WHERE pid = ANY(pg_blocking_pids(…))), let it finish or stop the application, and run the same command again.',
      details: pgDetails(err),
      cause: e,
    });
  }
  if (err.code === '53100') {
    return failure('PRODUCTION_DISK_FULL', `Production ran out of disk space during ${step}. The transaction was rolled back: nothing was written.`, {
      hint: 'Free space on the production server (or copy fewer tables at a time) and run the command again.',
      details: pgDetails(err),
      cause: e,
    });
  }
  return failure('PRODUCTION_WRITE_FAILED', `${step} failed in production${err.message ? `: ${err.message}` : ''}. The transaction was rolled back: nothing was written.`, {
    hint: 'The lines below are PostgreSQL\'s own error. Fix the cause and run the same command again; production is unchanged.',
    details: pgDetails(err),
    cause: e,
  });
}
