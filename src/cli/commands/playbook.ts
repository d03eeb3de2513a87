import type { Command } from 'commander';
import { getPlaybook, listPlaybooks, renderPlaybook } from '../../playbooks/load.js';
import type { Context } from '../context.js';
import { printJson, say } from '../output.js';

export function registerPlaybook(program: Command, ctx: () => Context): void {
  program
    .command('playbook [name]')
    .description('print a runbook (the manual procedure) for a source kind or for the whole incident')
    .action((name: string | undefined) => {
      const c = ctx();
      if (!name) {
        const all = listPlaybooks();
        if (c.json) return printJson({ playbooks: all.map((p) => ({ name: p.name, title: p.title })) });
        say('Playbooks (undrop playbook NAME prints one):');
        for (const p of all) say(`  ${p.name.padEnd(16)} ${p.title}`);
        return;
      }
      const p = getPlaybook(name);
      if (c.json) return printJson(p);
      say(renderPlaybook(p));
    });
}
