// Scenarios are data (playbooks/scenarios/<name>.yaml): a title and briefing
// for the facilitator, which components the lab builds, and the defects it
// plants. This module only reads and validates them.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import * as z from 'zod';
import { usageError } from '../errors.js';
import { parseDuration } from '../inventory/units.js';
import { listScenarios, scenariosDir } from './scenario-names.js';

const duration = z.string().refine((s) => s.trim() === '0' || parseDuration(s) !== undefined, { message: 'expected a duration such as "10min" or "0"' });

export const defectSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('broken-dumps'), count: z.number().int().min(1), text: z.string().min(1) }),
  z.strictObject({ kind: z.literal('old-good-dump'), age: duration }),
  z.strictObject({ kind: z.literal('archive-retention'), keep_from: z.literal('newest-base-backup') }),
  z.strictObject({ kind: z.literal('replica-no-delay') }),
  z.strictObject({ kind: z.literal('wal-gap'), from: z.array(z.enum(['archive', 'pgbackrest', 'barman'])).min(1) }),
  z.strictObject({ kind: z.literal('truncated-dump'), which: z.literal('newest') }),
]);
export type Defect = z.infer<typeof defectSchema>;

export const scenarioSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9-]+$/),
  title: z.string().min(1),
  briefing: z.string().min(1),
  /** For the facilitator of a tabletop drill: what the team should find, and the mistakes to watch for. */
  facilitator: z.string().optional(),
  components: z.strictObject({
    archive: z.boolean(),
    base_backups: z.boolean(),
    pgbackrest: z.boolean(),
    /** A Barman server (streaming WAL, pg_basebackup backups); opt-in: it costs the build a backup and a WAL switch. */
    barman: z.boolean().optional(),
    snapshots: z.boolean(),
    replica: z.boolean(),
    dumps: z.boolean(),
  }),
  replica_delay: duration,
  defects: z.array(defectSchema),
  expect: z
    .strictObject({
      best_source: z.string(),
      usable: z.array(z.string()),
      unusable: z.array(z.string()),
      notes: z.string().optional(),
    })
    .optional(),
});
export type Scenario = z.infer<typeof scenarioSchema>;

/** Validate a parsed scenario document (pure; unit-tested). */
export function parseScenario(doc: unknown, where: string): Scenario {
  const r = scenarioSchema.safeParse(doc);
  if (!r.success) {
    throw usageError(
      'SCENARIO_INVALID',
      `Scenario file ${where} is not valid.`,
      'Compare it with playbooks/scenarios/happy.yaml.',
      r.error.issues.map((i) => `  ${i.path.join('.') || '(top level)'}: ${i.message}`),
    );
  }
  const hasDefect = (k: Defect['kind']) => r.data.defects.some((d) => d.kind === k);
  const c = r.data.components;
  const problems: string[] = [];
  if ((hasDefect('broken-dumps') || hasDefect('old-good-dump') || hasDefect('truncated-dump')) && !c.dumps) problems.push('dump defects need components.dumps');
  if (hasDefect('archive-retention') && !c.archive) problems.push('WAL defects need components.archive');
  const gapFrom = r.data.defects.flatMap((d) => (d.kind === 'wal-gap' ? d.from : []));
  if (gapFrom.some((f) => f !== 'barman') && !c.archive) problems.push('WAL defects need components.archive');
  if (gapFrom.includes('barman') && !c.barman) problems.push('a WAL gap in Barman needs components.barman');
  if (hasDefect('replica-no-delay') && !c.replica) problems.push('replica-no-delay needs components.replica');
  if ((c.base_backups || c.pgbackrest) && !c.archive) problems.push('base backups and pgBackRest need components.archive');
  if (problems.length) throw usageError('SCENARIO_INVALID', `Scenario file ${where} is not consistent.`, 'Fix the components or the defects.', problems.map((p) => `  ${p}`));
  return r.data;
}

export function loadScenario(name: string): Scenario {
  const file = join(scenariosDir(), `${name}.yaml`);
  if (!/^[a-z0-9-]+$/.test(name) || !existsSync(file)) {
    const known = listScenarios();
    throw usageError('SCENARIO_UNKNOWN', `There is no scenario "${name}".`, known.length ? `Choose one of: ${known.join(', ')}.` : `No scenarios found in ${scenariosDir()}.`);
  }
  let doc: unknown;
  try {
    doc = YAML.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw usageError('SCENARIO_INVALID', `Scenario file ${file} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  return parseScenario(doc, file);
}

/** --delay / replica_delay as milliseconds ("0" allowed). */
export function delayMs(text: string): number | undefined {
  if (text.trim() === '0') return 0;
  return parseDuration(text);
}
