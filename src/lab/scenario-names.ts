// Where the scenario files are and their names: all `lab --help` needs
// (without the YAML and schema code of scenarios.ts).
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** playbooks/scenarios, found from the source tree and from dist/. */
export function scenariosDir(): string {
  if (process.env.UNDROP_PLAYBOOKS) return join(resolve(process.env.UNDROP_PLAYBOOKS), 'scenarios');
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(d, 'playbooks', 'scenarios');
    if (existsSync(candidate)) return candidate;
    d = dirname(d);
  }
  return join(process.cwd(), 'playbooks', 'scenarios');
}

export function listScenarios(): string[] {
  try {
    return readdirSync(scenariosDir())
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => f.slice(0, -5))
      .sort();
  } catch {
    return [];
  }
}
