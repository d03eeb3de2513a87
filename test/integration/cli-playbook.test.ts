// `undrop playbook` through the CLI, without PostgreSQL: the list, the three
// formats, a runbook printed where there is no inventory (placeholders kept and
// listed), and bad input as usage errors (exit 2), never a stack trace.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { undrop } from '../cli.js';

const empty = mkdtempSync(join(tmpdir(), 'pb-cli-'));
afterAll(() => rmSync(empty, { recursive: true, force: true }));
const run = (args: string[]) => undrop(args, { cwd: process.cwd(), env: { UNDROP_CONFIG: join(empty, 'none.yaml') } });

describe('undrop playbook', () => {
  it('lists the runbooks (fragments left out)', async () => {
    const r = await run(['--json', 'playbook']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).playbooks.map((p: { name: string }) => p.name)).toEqual(['barman', 'delayed-replica', 'dump', 'incident', 'pgbackrest', 'pitr', 'snapshot']);
  });

  it('prints Markdown by default, plain text and JSON on request; without an inventory the placeholders stay and are listed', async () => {
    const md = await run(['playbook', 'pitr', '--target', 'xid:4242', '--tables', 'shipments', '--schema', 'rec_1', '--port', '55999', '--restore-dir', '/srv/restore']);
    expect(md.exitCode, md.stderr).toBe(0);
    expect(md.stdout).toMatch(/^# Point-in-time recovery/);
    expect(md.stdout).toContain("recovery_target_xid = '4242'");
    expect(md.stdout).toContain('- `<backup>`: the base backup folder (--set)');
    expect(md.stdout).toContain('```bash\n');
    const text = await run(['playbook', 'pitr', '--format', 'text', '--target-xid', '4242']);
    expect(text.exitCode, text.stderr).toBe(0);
    expect(text.stdout).not.toContain('```');
    expect(text.stdout).toMatch(/ {3}\$ pg_verifybackup -w <source\.wal_archive> \/var\/tmp\/undrop-restore\/pitr/);
    const json = await run(['playbook', 'snapshot', '--format', 'json']);
    const doc = JSON.parse(json.stdout);
    expect(doc.name).toBe('snapshot');
    expect(doc.unfilled.map((u: { name: string }) => u.name)).toContain('snapshot');
    expect(doc.steps.every((s: { ref: string }) => /^[a-z-]+#[a-z-]+$/.test(s.ref))).toBe(true);
  });

  it('refuses bad input with exit 2', async () => {
    for (const args of [['playbook', 'nope'], ['playbook', 'pitr', '--format', 'pdf'], ['playbook', 'pitr', '--target', 'lsn:0/1'], ['playbook', 'pitr', '--schema', 'Bad Name'], ['playbook', 'pitr', '--port', '80']]) {
      const r = await run(args);
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).not.toMatch(/\n\s+at /);
    }
  });
});
