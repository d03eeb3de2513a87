// The examples at the end of every help page: what a responder types, in the
// order of an incident.
import type { Command } from 'commander';

export const EXAMPLES = `
In an incident, in this order:
  undrop                      guided: pauses delayed replicas first, then asks (needs a terminal)
  undrop pause                pause every delayed replica now (seconds matter)
  undrop probe                which backups work, and what each would lose
  undrop locate               what was dropped, when, and the exact target
  undrop recover --tables shipments,invoices --yes
  undrop promote --schema undrop_20261129_031500 --mode merge --yes

Exit codes: 0 ok, 1 failed, 2 bad usage or input, 3 unhealthy source (probe --strict, verify), 130 interrupted.
Run undrop help <command> for its options and examples.`;

const BY_COMMAND: Record<string, string[]> = {
  pause: ['undrop pause                                  # every delayed replica in ./undrop.yaml', 'undrop pause --source replica-4h --json', 'undrop pause --incident-time 2026-11-29T03:12:00Z   # also: how long each had left'],
  probe: ['undrop probe', 'undrop probe --tables shipments,invoices --incident-time 2026-11-29T03:12:00Z', 'undrop probe --strict --json                  # cron / monitoring: exit 3 when a source is not healthy'],
  locate: ['undrop locate', 'undrop locate --tables shipments --since 2026-11-29T02:00:00Z', 'undrop locate --json'],
  recover: [
    'undrop recover --tables shipments,invoices --yes                       # into a side schema, nothing live changes',
    'undrop recover --tables shipments --source replica-4h --target xid:48213 --yes',
    'undrop recover --tables shipments --mode merge --on-conflict rekey-live --yes',
  ],
  promote: ['undrop promote --schema undrop_20261129_031500 --mode merge', 'undrop promote --schema undrop_20261129_031500 --mode merge --on-conflict keep-live --yes', 'undrop promote --schema undrop_20261129_031500 --mode replace --tables shipments --yes'],
  resume: ['undrop resume --source replica-4h          # asks first', 'undrop resume --yes                        # every paused delayed replica, from a script'],
  verify: ['undrop verify', 'undrop verify --source nightly --tables shipments'],
  lab: ['undrop lab up --dir /tmp/lab && undrop lab incident --dir /tmp/lab', 'undrop -c /tmp/lab/undrop.yaml', 'undrop lab drill', 'undrop lab down --dir /tmp/lab'],
  playbook: ['undrop playbook', 'undrop playbook pitr'],
};

/** Add "Examples:" to each command's help page. */
export function addExamples(program: Command): void {
  for (const cmd of program.commands) {
    const ex = BY_COMMAND[cmd.name()];
    if (ex) cmd.addHelpText('after', `\nExamples:\n${ex.map((l) => `  ${l}`).join('\n')}`);
  }
}
