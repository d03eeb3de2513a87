import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Work directory for integration tests: under the system temp dir, reachable by the postgres OS user. */
export function testWorkDir(): string {
  const dir = join(tmpdir(), 'undrop-test');
  mkdirSync(dir, { recursive: true });
  return dir;
}
