// withClient / withTransaction on node-postgres, with libpq-style parameters
// and connection failures turned into clear, typed errors.
import pg from 'pg';
import { UndropError, failure, usageError } from '../errors.js';
import { type ConnParams, describe } from './conninfo.js';
import { pgpassNames } from './pgpass.js';
import { tlsOptions } from './tls.js';

export interface SessionSettings {
  /** Milliseconds; every query of a probe runs under a statement timeout so it never hangs. */
  statementTimeoutMs?: number;
  lockTimeoutMs?: number;
  applicationName?: string;
  connectTimeoutMs?: number;
}

export async function connect(params: ConnParams, settings: SessionSettings = {}): Promise<pg.Client> {
  const client = new pg.Client({
    host: params.host,
    port: params.port,
    user: params.user,
    database: params.database,
    password: params.password,
    application_name: settings.applicationName ?? params.application_name ?? 'undrop',
    connectionTimeoutMillis: settings.connectTimeoutMs ?? (params.connect_timeout ?? 10) * 1000,
    statement_timeout: settings.statementTimeoutMs,
    lock_timeout: settings.lockTimeoutMs,
    // false, not undefined: node-postgres would otherwise read PGSSLMODE itself (and use TLS on a Unix socket).
    ssl: tlsOptions(params) ?? false,
  } as pg.ClientConfig);
  // An idle connection that dies (server killed mid-operation) must not crash the process.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => {});
    throw connectionError(e, params);
  }
  return client;
}

export async function withClient<T>(params: ConnParams, fn: (client: pg.Client) => Promise<T>, settings: SessionSettings = {}): Promise<T> {
  const client = await connect(params, settings);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Run fn inside BEGIN … COMMIT; any error rolls back and is rethrown. */
export async function withTransaction<T>(client: pg.Client, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  }
}

/** Turn a connection failure into a one-paragraph error: which server, which user, what to check. */
export function connectionError(e: unknown, params: ConnParams): UndropError {
  if (e instanceof UndropError) return e;
  const err = e as { code?: string; message?: string };
  const where = describe(params);
  const msg = err.message ?? String(e);
  switch (err.code) {
    case '28P01':
    case '28000':
      return usageError('AUTH_FAILED', `PostgreSQL refused the login (${where}): ${msg}.`, authHint(params));
    case '3D000':
      return usageError('DATABASE_MISSING', `Database does not exist (${where}).`, 'Check dbname in the DSN (psql -l lists the databases).');
    case 'ECONNREFUSED':
    case 'ENOENT':
    case 'EHOSTUNREACH':
    case 'ENOTFOUND':
    case 'ETIMEDOUT':
    case 'EAI_AGAIN':
      return failure('UNREACHABLE', `Cannot reach PostgreSQL at ${where} (${err.code}).`, { hint: 'Check that the server runs and listens there (pg_isready -h HOST -p PORT), the host name and port, and any firewall.', cause: e });
    case '57P03':
      return failure('SERVER_STARTING', `PostgreSQL at ${where} is starting up or shutting down.`, { hint: 'Wait a moment and try again.', cause: e });
  }
  if (isTlsVerifyError(err)) {
    return usageError('TLS_VERIFY_FAILED', `The server certificate of ${where} was not accepted (sslmode=${params.sslmode ?? process.env.PGSSLMODE ?? 'prefer'}): ${msg}.`, "Check sslrootcert (the CA that signed the server's certificate; PGSSLROOTCERT or ~/.postgresql/root.crt otherwise) and, for verify-full, that the host name is one the certificate names. psql with the same DSN shows the same refusal.");
  }
  if (/server does not support SSL/i.test(msg)) {
    return usageError('TLS_UNAVAILABLE', `${where} does not accept TLS connections, and sslmode=${params.sslmode ?? process.env.PGSSLMODE} requires one.`, 'Check the host and port (is it the server you meant?), or turn ssl on there; sslmode=prefer connects without TLS when the server has none.');
  }
  if (/timeout/i.test(msg)) {
    return failure('UNREACHABLE', `Timed out connecting to PostgreSQL at ${where}.`, { hint: 'Check that the server runs and listens there (pg_isready), and any firewall.', cause: e });
  }
  return failure('CONNECT_FAILED', `Could not connect to PostgreSQL at ${where}: ${msg}`, { hint: 'Check the connection string and that the server accepts connections.', cause: e });
}

/** A TLS handshake refused by this side: an unknown CA, a host name the certificate does not name, an expired certificate. */
function isTlsVerifyError(err: { code?: string; message?: string }): boolean {
  return /^ERR_TLS_CERT|^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_[A-Z_]+)$/.test(err.code ?? '');
}

/** A refused login: when a password was given and the password file has an entry, say that libpq never read the file. */
function authHint(params: ConnParams): string {
  const generic = 'Check the user and password in the DSN, ~/.pgpass or PGPASSWORD, and that pg_hba.conf allows this user from here.';
  if (!params.password) return generic;
  const pgpass = pgpassNames(params);
  if (!pgpass.found) return generic;
  return `A password was given (in the DSN, the service or PGPASSWORD), so the password file ${pgpass.file}, which has an entry for this server and user, was not read (libpq does the same). Remove the password from there to use it, or correct it.`;
}
