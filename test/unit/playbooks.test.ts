// Playbooks are data shared by the CLI and the runbook tests: each file is
// valid, each step the code refers to exists, and the seven runbook problems
// found against PostgreSQL 15 stay fixed (the runbook tests execute them).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTableList } from '../../src/postgres/identifiers.js';
import { tableValues } from '../../src/playbooks/facts.js';
import { getPlaybook, listPlaybooks, loadPlaybooks, parsePlaybookFile, playbookStep } from '../../src/playbooks/load.js';
import { fillPlaybook, renderMarkdown, renderText } from '../../src/playbooks/render.js';
import { BRIEFING_STEPS, STEP_REFS } from '../../src/playbooks/refs.js';
import { UndropError } from '../../src/errors.js';

const temps: string[] = [];
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});
const tables = parseTableList('shipments,shipment_events,invoices');
const values = { os_user: 'postgres', work: '/r', socket: '/r/sock', port: '55435', data: '/r/x', database: 'shop', schema: 'recovered_x', 'production.dsn': 'host=/s dbname=shop', 'target.xid': '777', 'source.wal_archive': '/wal', 'source.wal': '/wal', 'source.dsn': 'host=/s port=2', 'source.config': '/c', 'source.stanza': 'main', 'source.server': 'pg-main', backup: '/b/1', set: '2026F', snapshot: '/snap/1', dump: '/d/x.sql', 'pg.major': '15', 'pg.bin': '/bin', ...tableValues(tables, 'recovered_x') };
const filled = (name: string) => fillPlaybook(getPlaybook(name), { values: { ...values, data: `/r/${getPlaybook(name).data ?? 'x'}` }, source: null, notes: [] });
const allRuns = (name: string) => filled(name).steps.flatMap((s) => s.commands.map((c) => c.run)).join('\n');

describe('playbooks as data', () => {
  it('every file is valid, renders in every format, and fills every placeholder from the inventory values', () => {
    const all = listPlaybooks();
    expect(all.map((p) => p.name).sort()).toEqual(['barman', 'delayed-replica', 'dump', 'incident', 'pgbackrest', 'pitr', 'snapshot']);
    for (const p of all) {
      const d = filled(p.name);
      expect(d.unfilled, p.name).toEqual([]);
      expect(renderMarkdown(d)).toContain(`# ${p.title}`);
      expect(renderText(d)).toContain(p.title.toUpperCase());
    }
  });

  it('every step the code refers to exists', () => {
    for (const ref of [...Object.values(STEP_REFS), ...BRIEFING_STEPS]) expect(playbookStep(ref).ref, ref).toBe(ref);
    expect(loadPlaybooks().find((p) => p.name === 'common')!.fragment).toBe(true);
  });

  it('names the file and the field on a schema error, an unknown placeholder, a missing step, a human check without expect', () => {
    const err = (text: string) => {
      try {
        parsePlaybookFile(text, 'x.yaml');
        return '';
      } catch (e) {
        expect(e).toBeInstanceOf(UndropError);
        return (e as Error).message;
      }
    };
    expect(err('name: x\ntitle: X\nsteps:\n  - id: a\n    title: A\n    commands:\n      - run: ls\n        expec: x\n')).toMatch(/playbooks\/x\.yaml: steps\.0\.commands\.0/);
    expect(err('name: x\ntitle: X\nsteps: []\n')).toMatch(/playbooks\/x\.yaml: steps/);
    const dir = mkdtempSync(join(tmpdir(), 'pb-'));
    temps.push(dir);
    writeFileSync(join(dir, 'incident.yaml'), 'name: incident\ntitle: I\nsteps:\n  - use: common#nope\n');
    writeFileSync(join(dir, 'common.yaml'), 'name: common\ntitle: C\nfragment: true\nsteps:\n  - id: a\n    title: A\n    commands:\n      - run: echo {{nope}}\n');
    expect(() => loadPlaybooks(dir)).toThrow(/playbooks\/common\.yaml: steps\.0\.commands\.0\.run: unknown placeholder \{\{nope\}\}/);
    writeFileSync(join(dir, 'common.yaml'), 'name: common\ntitle: C\nfragment: true\nsteps:\n  - id: a\n    title: A\n    human: true\n    commands:\n      - run: echo hi\n');
    expect(() => loadPlaybooks(dir)).toThrow(/playbooks\/common\.yaml: steps\.0\.commands\.0: step "a" is a human check/);
    writeFileSync(join(dir, 'common.yaml'), 'name: common\ntitle: C\nfragment: true\nsteps:\n  - id: a\n    title: A\n');
    expect(() => loadPlaybooks(dir)).toThrow(/playbooks\/incident\.yaml: steps\.0\.use: common#nope: playbooks\/common\.yaml has no step "nope"/);
  });
});

describe('the seven runbook problems stay fixed', () => {
  it('1: the replica copy recovers to the xid (exclusive, promote) with standby settings set aside, private socket, no archiving, and a start command', () => {
    const d = filled('delayed-replica');
    const copy = d.steps.filter((s) => s.branch === 'copy' || !s.branch).flatMap((s) => s.commands.map((c) => c.run)).join('\n');
    expect(copy).toContain("recovery_target_xid = '777'");
    expect(copy).toContain('recovery_target_inclusive = off');
    expect(copy).toContain("recovery_target_action = 'promote'");
    expect(copy).not.toContain('recovery_target_lsn');
    expect(copy).toMatch(/restore_command = 'cp \/wal\/%f %p'/);
    expect(copy).toMatch(/rm -f \S+\/postmaster\.pid \S+ \S+\/standby\.signal/);
    expect(copy).toMatch(/mv \/r\/replica\/\$f \/r\/replica\.source-config/); // primary_conninfo, primary_slot_name live there
    for (const s of ["port = 55435", "listen_addresses = ''", "unix_socket_directories = '/r/sock'", 'archive_mode = off']) expect(copy).toContain(s);
    expect(copy).toMatch(/pg_ctl -D \/r\/replica -l \/r\/replica\.log -w -t 3600 start/);
  });

  it('2: "pause requested" is accepted as safe (PostgreSQL 15 replica waiting in its delay), in both runbooks', () => {
    for (const name of ['incident', 'delayed-replica']) {
      const pause = filled(name).steps.find((s) => s.id === 'pause')!;
      const re = new RegExp(pause.commands[1]!.expect!, 'm');
      expect(re.test('pause requested|2026-11-29 02:00:00+00')).toBe(true);
      expect(re.test('paused|2026-11-29 02:00:00+00')).toBe(true);
      expect(re.test('not paused|')).toBe(false);
    }
  });

  it('3: copy-back moves the tables into the side schema first, dumps it with -n (CREATE SCHEMA included) and restores in one transaction', () => {
    const runs = allRuns('incident');
    expect(runs).toContain('CREATE SCHEMA recovered_x;');
    expect(runs).toContain('ALTER TABLE "public"."shipments" SET SCHEMA "recovered_x";');
    expect(runs).toMatch(/pg_dump .* -n recovered_x \| pg_restore -d "host=\/s dbname=shop" --single-transaction --exit-on-error/);
    expect(runs).not.toMatch(/-t 'recovered\.\*'/);
  });

  it('4: pgBackRest pins --set and gets a private socket, not only a port', () => {
    const runs = allRuns('pgbackrest');
    expect(runs).toMatch(/restore --set=2026F .*--type=xid --target=777 --target-exclusive/);
    expect(runs).toContain("unix_socket_directories = '/r/sock'");
    expect(runs).toContain("listen_addresses = ''");
  });

  it('5: the socket folder is created; pg_verifybackup gets -w; gaps in the middle are found; snapshots dereference pg_wal and drop archive_cleanup_command', () => {
    expect(allRuns('pitr')).toMatch(/install -d -m 0700 .* \/r \/r\/sock/);
    expect(allRuns('pitr')).toContain('pg_verifybackup -w /wal /r/pitr');
    const snap = allRuns('snapshot');
    expect(snap).toMatch(/if \[ -L \/r\/snap\/pg_wal \]; then rm \/r\/snap\/pg_wal && mkdir -m 0700 \/r\/snap\/pg_wal && cp -a "\$\(realpath "\$src"\/pg_wal\)"/);
    expect(snap).toContain("archive_cleanup_command = ''");
    expect(snap).toMatch(/mv \/r\/snap\/\$f/);
    // The gap walk, run by bash over an archive with a hole in the middle (head/tail would show nothing).
    const archive = mkdtempSync(join(tmpdir(), 'wal-'));
    temps.push(archive);
    mkdirSync(archive, { recursive: true });
    for (const seg of ['000000010000000000000001', '000000010000000000000002', '000000010000000000000004', '0000000100000000000000FF', '000000010000000100000000', '000000010000000100000001', '000000010000000000000002.00000028.backup']) writeFileSync(join(archive, seg), '');
    const gapStep = fillPlaybook(getPlaybook('pitr'), { values: { ...values, 'source.wal_archive': archive }, source: null, notes: [] }).steps.find((s) => s.id === 'archive-gaps')!;
    const out = execFileSync('bash', ['-c', gapStep.commands[0]!.run], { encoding: 'utf8' });
    expect(out).toContain('GAP after 000000010000000000000002 (next is 000000010000000000000004)');
    expect(out).toContain('GAP after 000000010000000000000004 (next is 0000000100000000000000FF)');
    expect(out).not.toContain('GAP after 0000000100000000000000FF'); // …FF → 1/00 is the next segment
    expect(new RegExp(gapStep.commands[0]!.reject!, 'm').test(out)).toBe(true);
  });

  it('6: notes are fields, shown as shell comments; a YAML comment is refused', () => {
    expect(() => parsePlaybookFile('name: x\ntitle: X\nsteps:\n  - id: a\n    title: A\n    commands:\n      - ls   # wait for: paused\n', 'x.yaml')).toThrow(/x\.yaml: .*YAML comment/);
    const md = renderMarkdown(filled('pitr'));
    expect(md).toContain("# the WAL-Ranges entry names the backup's end; a target before it is impossible\ntail -c 300 /b/1/backup_manifest");
  });

  it('7: a plain .sql dump is checked by its last line and restored with psql, not pg_restore', () => {
    const runs = allRuns('dump');
    expect(runs).toMatch(/else zcat -f \/d\/x\.sql \| tail -n 5 \| grep -q -- '-- PostgreSQL database dump complete'/);
    expect(runs).toMatch(/else zcat -f \/d\/x\.sql \| psql -X -q -v ON_ERROR_STOP=1/);
  });
});
