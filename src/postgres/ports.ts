// Free ports for temporary instances. They listen on a private socket, but
// the port number is still part of the socket name and of any TCP listener,
// so an occupied number (TCP on 127.0.0.1 or a socket lock file in the usual
// places) is skipped, and numbers handed out in this process are not reused.
import { existsSync } from 'node:fs';
import net from 'node:net';

const handedOut = new Set<number>();
const LOW = 54320;
const HIGH = 59999;

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

function socketFree(port: number, extraDirs: string[]): boolean {
  return ![...extraDirs, '/tmp', '/var/run/postgresql'].some((d) => existsSync(`${d}/.s.PGSQL.${port}.lock`) || existsSync(`${d}/.s.PGSQL.${port}`));
}

export async function isPortFree(port: number, extraDirs: string[] = []): Promise<boolean> {
  return socketFree(port, extraDirs) && (await tcpFree(port));
}

/** A free port; random start so that parallel undrop processes rarely collide. */
export async function findFreePort(options: { preferred?: number; socketDirs?: string[] } = {}): Promise<number> {
  const span = HIGH - LOW;
  let candidate = options.preferred ?? LOW + Math.floor(Math.random() * span);
  for (let tries = 0; tries < 200; tries++) {
    if (!handedOut.has(candidate) && (await isPortFree(candidate, options.socketDirs))) {
      handedOut.add(candidate);
      return candidate;
    }
    candidate = candidate >= HIGH ? LOW : candidate + 1;
  }
  throw new Error('No free port found between 54320 and 59999.');
}

export function releasePort(port: number): void {
  handedOut.delete(port);
}
