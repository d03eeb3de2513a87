// The shape of a playbook file (playbooks/*.yaml), validated at load. A step
// is either written out or borrowed from another file (`use: common#start`);
// commands carry their notes in `note:` (YAML comments would be dropped) and
// what the output must show in `expect:` / must not show in `reject:`, which
// the runbook tests assert.
import * as z from 'zod';
import { SOURCE_KINDS } from '../inventory/schema.js';

const id = z.string().regex(/^[a-z][a-z0-9-]*$/, { message: 'expected a kebab-case id' });
/** Who runs a command: the server's OS user (postgres), root, or anyone with a client (default). */
export const runAs = z.enum(['server', 'root', 'client']);

const command = z.union([
  z.string().min(1),
  z.strictObject({
    run: z.string().min(1),
    note: z.string().optional(),
    as: runAs.optional(),
    /** A regular expression (multiline) the output must match. */
    expect: z.string().optional(),
    /** A regular expression the output must not match. */
    reject: z.string().optional(),
    /** A person runs it (interactive, or needs undrop itself): the runbook tests skip it. */
    manual: z.boolean().optional(),
  }),
]);

const ownStep = z.strictObject({
  id,
  title: z.string().min(1),
  say: z.string().optional(),
  check: z.string().optional(),
  /** A person judges the outcome; the tests assert each command's `expect` instead. */
  human: z.boolean().optional(),
  as: runAs.optional(),
  branch: id.optional(),
  commands: z.array(command).optional(),
});

const useStep = z.strictObject({
  use: z.string().regex(/^[a-z][a-z0-9-]*#[a-z][a-z0-9-]*$/, { message: 'expected FILE#STEP, for example common#start' }),
  branch: id.optional(),
});

export const playbookFileSchema = z.strictObject({
  name: id,
  title: z.string().min(1),
  /** The source kind this runbook recovers from (undrop playbook KIND). */
  kind: z.enum(SOURCE_KINDS as [string, ...string[]]).optional(),
  /** Steps for other runbooks only; not listed. */
  fragment: z.boolean().optional(),
  /** Folder name of the temporary instance under the restore folder ({{data}}). */
  data: z.string().regex(/^[a-z][a-z0-9-]*$/).optional(),
  summary: z.string().optional(),
  /** Alternative paths through the runbook: name → when to take it. */
  branches: z.record(id, z.string()).optional(),
  steps: z.array(z.union([useStep, ownStep])).min(1),
});

export type PlaybookFile = z.infer<typeof playbookFileSchema>;
export type RunAs = z.infer<typeof runAs>;

export interface PlaybookCommand {
  run: string;
  note?: string;
  as: RunAs;
  expect?: string;
  reject?: string;
  manual: boolean;
}

export interface PlaybookStep {
  id: string;
  /** Where the step is written: FILE#ID. */
  ref: string;
  title: string;
  say?: string;
  check?: string;
  human: boolean;
  branch?: string;
  commands: PlaybookCommand[];
}

export interface Playbook {
  name: string;
  title: string;
  kind?: string;
  fragment: boolean;
  data?: string;
  summary?: string;
  branches: Record<string, string>;
  steps: PlaybookStep[];
  file: string;
}
