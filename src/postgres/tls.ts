// TLS for node-postgres connections the way libpq sets it up, so a DSN that
// works with psql works with undrop's own connections (copy back, promote):
// sslmode, sslrootcert, sslcert, sslkey (keywords, PGSSL* environment, or
// libpq's defaults in ~/.postgresql/).
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { usageError } from '../errors.js';
import type { ConnParams } from './conninfo.js';

/** node-postgres `ssl` for these parameters; undefined = no TLS (disable, allow, prefer: as libpq falls back). */
export function tlsOptions(params: ConnParams, env: NodeJS.ProcessEnv = process.env, home = homedir()): ConnectionOptions | undefined {
  const mode = params.sslmode ?? env.PGSSLMODE;
  if (!mode || ['disable', 'allow', 'prefer'].includes(mode)) return undefined;
  // libpq never uses TLS on a Unix socket, whatever sslmode says (PGSSLMODE must not break undrop's own private sockets).
  if (params.host?.startsWith('/')) return undefined;
  const x = params.extra ?? {};
  const dir = join(home, '.postgresql');
  const rootcert = x.sslrootcert ?? env.PGSSLROOTCERT ?? join(dir, 'root.crt');
  const cert = x.sslcert ?? env.PGSSLCERT ?? join(dir, 'postgresql.crt');
  const key = x.sslkey ?? env.PGSSLKEY ?? join(dir, 'postgresql.key');
  const tls: ConnectionOptions = { rejectUnauthorized: false };
  // libpq: verify-ca / verify-full need the root certificate; require verifies the CA too when one is there.
  const verify = mode === 'verify-ca' || mode === 'verify-full' || (mode === 'require' && existsSync(rootcert));
  if (verify) {
    if (!existsSync(rootcert)) {
      throw usageError('SSL_ROOT_CERT_MISSING', `sslmode=${mode} needs the server's root certificate, and ${rootcert} does not exist.`, 'Set sslrootcert in the DSN (or PGSSLROOTCERT), or put the CA certificate at ~/.postgresql/root.crt, as for psql.');
    }
    tls.rejectUnauthorized = true;
    tls.ca = readFileSync(rootcert);
    // verify-ca (and require) check the chain, not the host name; verify-full checks both.
    if (mode !== 'verify-full') tls.checkServerIdentity = () => undefined;
  }
  if (existsSync(cert) && existsSync(key)) {
    tls.cert = readFileSync(cert);
    tls.key = readFileSync(key);
  }
  return tls;
}
