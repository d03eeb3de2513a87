// lab.json: everything `lab status`, `lab incident` and `lab down` need from
// a new process, and what tests and sources read to find the lab's parts.
import { existsSync, readdirSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import * as z from 'zod';
import { usageError } from '../errors.js';
import type { LabLayout } from './layout.js';

const tableTruth = z.object({ rows: z.number(), checksum: z.string() });
export const tableTruths = z.record(z.string(), tableTruth);
export type TableTruths = z.infer<typeof tableTruths>;

const instance = z.object({
  root: z.string(),
  dataDir: z.string(),
  logFile: z.string(),
  port: z.number(),
  pid: z.number().nullable(),
  superuser: z.string(),
});

export const labStateSchema = z.object({
  kind: z.literal('undrop-lab'),
  version: z.literal(1),
  dir: z.string(),
  state: z.enum(['building', 'up', 'failed', 'incident']),
  scenario: z.string(),
  scale: z.number(),
  tcp: z.boolean(),
  createdAt: z.string(),
  upCompletedAt: z.string().nullable(),
  incidentAt: z.string().nullable(),
  error: z.string().nullable(),
  pg: z.object({ major: z.number(), version: z.string(), bindir: z.string() }),
  socketDir: z.string(),
  /** True when the socket directory is outside the lab folder (removed separately by lab down). */
  socketDirOutside: z.boolean(),
  database: z.string(),
  tables: z.array(z.string()),
  primary: instance.extend({ archiveMode: z.boolean() }).nullable(),
  replica: instance.extend({ slot: z.string(), delay: z.string() }).nullable(),
  workload: z.object({ pid: z.number(), script: z.string(), log: z.string(), rate: z.number(), startedAt: z.string() }).nullable(),
  archive: z.string().nullable(),
  baseBackups: z.array(
    z.object({ path: z.string(), format: z.enum(['plain', 'tar']), label: z.string(), takenAt: z.string(), startLsn: z.string().nullable(), endLsn: z.string().nullable(), startWalFile: z.string().nullable() }),
  ),
  snapshots: z.array(z.object({ path: z.string(), takenAt: z.string(), lsn: z.string(), tables: tableTruths })),
  dumps: z.array(
    z.object({
      path: z.string(),
      format: z.enum(['custom', 'plain']),
      takenAt: z.string(),
      /** The time its name and mtime claim (differs from takenAt when a scenario ages it). */
      labelledAt: z.string(),
      bytes: z.number(),
      valid: z.boolean(),
      defect: z.string().nullable(),
      tables: tableTruths.nullable(),
    }),
  ),
  pgbackrest: z.object({ config: z.string(), repo: z.string(), stanza: z.string(), backups: z.array(z.object({ label: z.string().nullable(), takenAt: z.string() })) }).nullable(),
  /** Absent in labs built before Barman was part of the lab. */
  barman: z.object({ config: z.string(), home: z.string(), server: z.string(), backups: z.array(z.object({ id: z.string().nullable(), takenAt: z.string() })) }).nullable().optional(),
  defects: z.array(z.object({ code: z.string(), description: z.string(), path: z.string().nullable(), at: z.string() })),
  steps: z.array(z.object({ name: z.string(), durationMs: z.number(), at: z.string() })),
});

export type LabState = z.infer<typeof labStateSchema>;

/** Write atomically (tmp + rename) so a crash never leaves half a lab.json. */
export async function saveState(layout: LabLayout, state: LabState): Promise<void> {
  const tmp = `${layout.stateFile}.tmp`;
  await writeFile(tmp, JSON.stringify(state, null, 2) + '\n');
  await rename(tmp, layout.stateFile);
}

/** The lab's state, or undefined when the folder has no lab.json. Throws on a damaged file. */
export async function readState(layout: LabLayout): Promise<LabState | undefined> {
  let text: string;
  try {
    text = await readFile(layout.stateFile, 'utf8');
  } catch {
    return undefined;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw usageError('LAB_STATE_DAMAGED', `${layout.stateFile} is not valid JSON.`, `Remove the lab by hand: stop its servers (pg_ctl -D ${layout.primaryRoot}/data stop) and delete ${layout.dir}.`);
  }
  const parsed = labStateSchema.safeParse(doc);
  if (!parsed.success) {
    throw usageError('LAB_STATE_DAMAGED', `${layout.stateFile} is not a lab state this version of undrop understands.`, `Remove the lab with the undrop version that built it, or by hand (pg_ctl stop, then delete ${layout.dir}).`);
  }
  return parsed.data;
}

/** The lab's state; a usage error when there is no lab in that folder. */
export async function requireState(layout: LabLayout): Promise<LabState> {
  const s = await readState(layout);
  if (!s) {
    throw usageError('LAB_MISSING', `There is no lab in ${layout.dir} (no lab.json).`, 'Build one with `undrop lab up` (or pass --dir to point at an existing lab).');
  }
  return s;
}

/** Whether a folder exists and has anything in it. */
export function dirHasEntries(dir: string): boolean {
  return existsSync(dir) && readdirSync(dir).length > 0;
}
