// No undrop.yaml yet: ask for what a responder knows (production's DSN,
// where the backups are), scan the usual places, confirm each find, write
// the inventory, and go on with it.
import { writeFileSync } from 'node:fs';
import { confirm, input } from '@inquirer/prompts';
import { stringify } from 'yaml';
import { isUndropError } from '../../errors.js';
import { defaultConfigPath, loadInventory } from '../../inventory/load.js';
import type { Inventory } from '../../inventory/schema.js';
import { type FoundSource, classifyTree, scanUsualPlaces } from '../../inventory/scan.js';
import { recordAnswer } from '../answers.js';
import type { Context } from '../context.js';
import { note } from '../output.js';
import { asking } from '../steps.js';
import { dsnPrompt, sourceFoundPrompt } from './prompts.js';

const out = { output: process.stderr };

async function ask<T>(question: string, p: () => Promise<T>): Promise<T> {
  const v = await asking(p);
  recordAnswer(question, question.includes('DSN') ? '(given)' : v, 'interactive');
  return v;
}

/** A name for a source: its kind, numbered when there are several. Pure. */
function nameFor(kind: string, taken: Set<string>): string {
  let n = kind;
  for (let i = 2; taken.has(n); i++) n = `${kind}-${i}`;
  taken.add(n);
  return n;
}

export async function inventoryOrWizard(c: Context): Promise<Inventory> {
  try {
    return await loadInventory(c.configFlag);
  } catch (e) {
    if (!(isUndropError(e) && e.code === 'CONFIG_MISSING')) throw e;
  }
  const file = defaultConfigPath(c.configFlag);
  note(`No inventory at ${file}: let's write one (undrop.yaml lists production and every recovery source).`);
  const dsn = (await ask('production DSN', () => input(dsnPrompt(), out))).trim();
  const sources: Record<string, unknown>[] = [];
  const taken = new Set<string>();
  // Second, because it is paused as soon as the inventory is written: every minute counts.
  const replica = (await ask('delayed replica DSN', () => input({ message: 'A delayed replica (recovery_min_apply_delay)? Its DSN, paused right after these questions (empty: none)' }, out))).trim();
  if (replica) sources.push({ name: nameFor('delayed-replica', taken), kind: 'delayed-replica', dsn: replica });
  const offer = async (found: FoundSource[]) => {
    for (const f of found) {
      if (!f.source) {
        note(`  Found ${f.description}: ${f.note}`);
        continue;
      }
      if (await ask(`add ${f.description}`, () => confirm(sourceFoundPrompt(f.description), out))) sources.push({ name: nameFor(f.source.kind, taken), ...f.source });
    }
  };
  note('Looking in the usual places (pgBackRest and Barman configuration, /backups, /var/backups/postgresql, snapshot mounts)…');
  await offer(scanUsualPlaces());
  for (;;) {
    const dir = (await ask('another folder with backups', () => input({ message: 'Another folder with backups, dumps, a WAL archive or snapshots? (path; empty when done)' }, out))).trim();
    if (!dir) break;
    const found = classifyTree(dir);
    if (!found.length) note(`  Nothing undrop recognises in ${dir} (base backups with backup_label or base.tar, WAL segment files, *.dump/*.sql, data directories).`);
    await offer(found);
  }
  const doc = { production: { dsn }, sources };
  writeFileSync(file, `# Written by the guided flow of undrop at ${new Date().toISOString()}; edit freely.\n${stringify(doc)}`, { mode: 0o600, flag: 'wx' });
  note(`Wrote ${file} (${sources.length} source(s)).`);
  return loadInventory(file);
}
