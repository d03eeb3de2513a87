// `undrop playbook [NAME]` (registered in commands/playbook.ts): a runbook
// for people who cannot run undrop, its placeholders filled from the
// inventory (when there is one) and the target.
import { existsSync } from 'node:fs';
import { usageError } from '../../errors.js';
import { defaultConfigPath, loadInventory } from '../../inventory/load.js';
import type { Inventory } from '../../inventory/schema.js';
import { parseTableList } from '../../postgres/identifiers.js';
import { locateIncident } from '../../recovery/locate/index.js';
import { gatherFacts, labTables } from '../../playbooks/facts.js';
import { getPlaybook, listPlaybooks } from '../../playbooks/load.js';
import { fillPlaybook, renderMarkdown, renderText } from '../../playbooks/render.js';
import { type TargetFlags, targetFromFlags } from '../../sources/target.js';
import type { Context } from '../context.js';
import { printJson, say } from '../output.js';

export interface PlaybookFlags extends TargetFlags {
  format?: 'markdown' | 'text' | 'json';
  tables?: string;
  source?: string;
  set?: string;
  schema?: string;
  restoreDir?: string;
  port?: number;
}

/** List the runbooks, or print one filled in. */
export async function runPlaybook(c: Context, name: string | undefined, flags: PlaybookFlags): Promise<void> {
  const format = c.json ? 'json' : (flags.format ?? 'markdown');
  if (!name) {
    const all = listPlaybooks();
    if (format === 'json') return printJson({ playbooks: all.map((p) => ({ name: p.name, kind: p.kind ?? null, title: p.title })) });
    say('Playbooks (undrop playbook NAME prints one):');
    for (const p of all) say(`  ${p.name.padEnd(16)} ${p.title}`);
    return;
  }
  const p = getPlaybook(name);
  const spec = targetFromFlags(flags);
  if (spec.kind !== 'before-incident' && spec.kind !== 'xid') {
    throw usageError('PLAYBOOK_TARGET', `Runbooks take the destructive transaction's xid, not ${spec.kind}.`, '`undrop locate` prints it; then: undrop playbook NAME --target xid:N.');
  }
  // Without an inventory (a bastion host, a tabletop) the runbook keeps its <placeholders>.
  const cfg = defaultConfigPath(c.configFlag);
  const inventory: Inventory | undefined = c.configFlag || existsSync(cfg) ? await loadInventory(c.configFlag) : undefined;
  const tables = flags.tables ? parseTableList(flags.tables) : ((await labTables(inventory)) ?? []).map((t) => parseTableList(t)[0]!);
  // --target before-incident asks locate (read-only) for the xid, and its time picks the newest backup before it.
  let located: { xid?: string; before?: string; note?: string } = spec.kind === 'xid' ? { xid: spec.xid } : {};
  if (flags.target === 'before-incident') {
    if (!inventory) throw usageError('CONFIG_MISSING', '--target before-incident reads the WAL the inventory names, and there is no inventory here.', 'Pass -c undrop.yaml, or --target xid:N from `undrop locate` run elsewhere.');
    const t = await locateIncident(inventory, { tables });
    if (t.event.unnamedReason) throw usageError('INCIDENT_UNNAMED', `locate's newest candidate, transaction ${t.event.xid}, names no table (${t.event.unnamedReason}).`, `If it is the incident, pass --target xid:${t.event.xid}; otherwise find the right one with \`undrop locate --tables …\`.`);
    located = { xid: String(t.xid), before: t.time, note: `Target: ${t.origin}.` };
  }
  const facts = await gatherFacts(p, { inventory, tables, xid: located.xid, before: located.before, source: flags.source, set: flags.set, schema: flags.schema, restoreDir: flags.restoreDir, port: flags.port });
  if (located.note) facts.notes.unshift(located.note);
  const doc = fillPlaybook(p, facts);
  if (format === 'json') return printJson(doc);
  say(format === 'text' ? renderText(doc) : renderMarkdown(doc));
}
