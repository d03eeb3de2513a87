// A runbook filled for one inventory and target, as a document (JSON) and as
// Markdown or plain text. Notes are printed as shell comments above their
// command, so a pasted block runs as it reads.
import type { FilledCommand, PlaybookDocument } from '../contract.js';
import type { Facts } from './facts.js';
import { fill, PLACEHOLDERS, isPlaceholder, regexEscape } from './placeholders.js';
import type { Playbook, RunAs } from './schema.js';

export type { PlaybookDocument } from '../contract.js';

export function fillPlaybook(p: Playbook, facts: Facts): PlaybookDocument {
  const missing = new Set<string>();
  const f = (t: string | undefined) => (t === undefined ? undefined : fill(t, facts.values, missing));
  // Patterns get their values escaped: a path or xid is matched literally.
  const fr = (t: string | undefined) => (t === undefined ? undefined : fill(t, facts.values, missing, regexEscape));
  const steps = p.steps.map((s) => ({
    id: s.id,
    ref: s.ref,
    title: s.title,
    ...(s.say ? { say: f(s.say) } : {}),
    ...(s.check ? { check: f(s.check) } : {}),
    human: s.human,
    ...(s.branch ? { branch: s.branch } : {}),
    commands: s.commands.map((c) => ({ run: f(c.run)!, ...(c.note ? { note: f(c.note) } : {}), as: c.as, ...(c.expect !== undefined ? { expect: fr(c.expect) } : {}), ...(c.reject !== undefined ? { reject: fr(c.reject) } : {}), manual: c.manual })),
  }));
  return {
    name: p.name,
    kind: p.kind ?? null,
    title: p.title,
    summary: p.summary?.trim() ?? null,
    source: facts.source,
    osUser: facts.values.os_user ?? 'postgres',
    branches: p.branches,
    unfilled: [...missing].sort().map((name) => ({ name, what: isPlaceholder(name) ? PLACEHOLDERS[name] : name })),
    notes: facts.notes,
    steps,
  };
}

function who(as: RunAs, osUser: string): string | undefined {
  if (as === 'server') return `as the ${osUser} OS user (sudo -iu ${osUser})`;
  if (as === 'root') return 'as root';
  return undefined;
}

/** Consecutive commands run by the same user, so each block says who runs it once. */
function blocks(cmds: FilledCommand[]): FilledCommand[][] {
  const out: FilledCommand[][] = [];
  for (const c of cmds) {
    const last = out[out.length - 1];
    if (last && last[0]!.as === c.as) last.push(c);
    else out.push([c]);
  }
  return out;
}

const commentLines = (note: string) => note.split('\n').map((l) => `# ${l}`);

export function renderMarkdown(d: PlaybookDocument): string {
  const out: string[] = [`# ${d.title}`, ''];
  if (d.summary) out.push(d.summary, '');
  if (d.source) out.push(`Source: **${d.source}** from the inventory.`, '');
  for (const n of d.notes) out.push(`- ${n}`);
  if (d.notes.length) out.push('');
  if (d.unfilled.length) out.push('Fill in before running:', ...d.unfilled.map((u) => `- \`<${u.name}>\`: ${u.what}`), '');
  if (Object.keys(d.branches).length) out.push('This runbook has alternative paths:', ...Object.entries(d.branches).map(([k, v]) => `- **${k}**: ${v}`), '');
  out.push('Commands are for bash, with the PostgreSQL binaries on PATH.', '');
  d.steps.forEach((s, i) => {
    out.push(`## ${i + 1}. ${s.title}${s.branch ? ` (${s.branch} path only)` : ''}`, '');
    if (s.say) out.push(s.say, '');
    for (const b of blocks(s.commands)) {
      const w = who(b[0]!.as, d.osUser);
      if (w) out.push(`Run ${w}:`, '');
      out.push('```bash', ...b.flatMap((c) => [...(c.note ? commentLines(c.note) : []), c.run.trimEnd()]), '```', '');
    }
    if (s.check) out.push(`${s.human ? '**Check (you decide):**' : 'Check:'} ${s.check}`, '');
  });
  return out.join('\n');
}

export function renderText(d: PlaybookDocument): string {
  const out: string[] = [d.title.toUpperCase(), ''];
  if (d.summary) out.push(d.summary, '');
  if (d.source) out.push(`Source: ${d.source} (from the inventory)`);
  for (const n of d.notes) out.push(`  * ${n}`);
  if (d.unfilled.length) out.push('Fill in before running:', ...d.unfilled.map((u) => `  <${u.name}>  ${u.what}`));
  for (const [k, v] of Object.entries(d.branches)) out.push(`Path "${k}": ${v}`);
  out.push('');
  d.steps.forEach((s, i) => {
    out.push(`${i + 1}. ${s.title}${s.branch ? ` [${s.branch} path only]` : ''}`);
    if (s.say) out.push(`   ${s.say}`);
    for (const b of blocks(s.commands)) {
      const w = who(b[0]!.as, d.osUser);
      if (w) out.push(`   (${w})`);
      for (const c of b) {
        if (c.note) out.push(...commentLines(c.note).map((l) => `   ${l}`));
        out.push(...c.run.trimEnd().split('\n').map((l, j) => `   ${j === 0 ? '$ ' : '  '}${l}`));
      }
    }
    if (s.check) out.push(`   ${s.human ? 'CHECK (you decide)' : 'Check'}: ${s.check}`);
    out.push('');
  });
  return out.join('\n');
}
