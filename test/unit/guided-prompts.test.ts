// Every question of the guided flow, driven as a person would (keys in,
// screen out) with @inquirer/testing.
import { confirm, input, select } from '@inquirer/prompts';
import { render } from '@inquirer/testing';
import { describe, expect, it } from 'vitest';
import { confirmPrompt, dsnPrompt, eventPrompt, FOLD, onConflictPrompt, promotePrompt, promoteTableLines, sourceFoundPrompt, sourcePrompt, unnamedPrompt } from '../../src/cli/guided/prompts.js';
import { equivalentCommand } from '../../src/cli/guided/flow.js';
import type { LocatedEvent } from '../../src/recovery/locate/index.js';
import type { ProbeReport } from '../../src/sources/probe-all.js';

const NOW = Date.parse('2026-11-29T03:20:00Z');
/**
 * The test screen wraps at 80 columns, and where it wraps depends on the environment (CI=true
 * changes the prompt's glyphs): compare without any white space on either side.
 */
const flat = (screen: string) => screen.replace(/\s+/g, '');
const ev = (xid: string, names: (string | null)[], o: Partial<LocatedEvent> = {}): LocatedEvent =>
  ({
    xid,
    kind: 'drop',
    lsn: '0/5000000',
    firstLsn: '0/4F00000',
    commitLsn: '0/5000000',
    commitTime: '2026-11-29T03:12:07.5Z',
    database: { oid: 5, name: 'shop' },
    relations: names.map((n, i) => ({ relfilenode: 100 + i, name: n })),
    recreated: [],
    rowsLost: 150_000,
    rowsKind: 'exact',
    catalog: 'production',
    target: { xid, inclusive: false },
    notes: [],
    ...o,
  }) as LocatedEvent;

describe('what was lost (event picker)', () => {
  const incident = ev('959', ['public.shipments', 'public.invoices'], { recreated: [{ relfilenode: 300, name: 'public.shipments' }] });
  const older = ev('900', ['public.tmp_report'], { commitTime: '2026-11-29T01:00:00Z', rowsLost: 12 });
  const unnamed = ev('880', [null, null], { unnamedReason: 'no catalog from before it knows its files', rowsLost: null });
  const own = ev('990', ['undrop_20261129_031500.shipments'], { commitTime: '2026-11-29T03:15:00Z' });

  it('opens on the named incident, preselected, with tables, rows lost, time and how long ago; Enter picks it', async () => {
    const { answer, events, getScreen } = await render(select, eventPrompt([incident, older, unnamed], [own], NOW));
    const screen = flat(getScreen());
    expect(screen).toContain(flat('❯ DROP+CREATE public.shipments, public.invoices — 150,000 rows — 2026-11-29 03:12:07.5 UTC (7 min ago) — xid 959  [most likely]'));
    expect(screen).toContain(flat('DROP public.tmp_report — 12 rows'));
    expect(screen).toContain(flat('1 more without table names (no catalog from before it knows its files) …'));
    expect(screen).toMatch(/undrop_20261129_031500\.shipments.*undrop'sownsideschema\(housekeeping,notanincident\)/);
    expect(screen).toContain(flat('rows written since may reuse lost keys'));
    events.keypress('enter');
    await expect(answer).resolves.toBe(incident);
  });

  it('the folded line opens the unnamed ones; undrop\'s own drop cannot be chosen', async () => {
    const { answer, events } = await render(select, eventPrompt([incident, unnamed], [own], NOW));
    events.keypress('down');
    events.keypress('down'); // past the disabled housekeeping line: stays on the fold or wraps, never selects it
    events.keypress('up');
    events.keypress('enter');
    const picked = await answer;
    expect(picked === FOLD || picked === incident).toBe(true);
    expect(picked).not.toBe(own);
    const second = await render(select, unnamedPrompt([unnamed], NOW));
    expect(flat(second.getScreen())).toContain(flat('DROP base/5/100, base/5/101 — rows unknown'));
    second.events.keypress('enter');
    await expect(second.answer).resolves.toBe(unnamed);
  });
});

describe('sources', () => {
  const src = (name: string, kind: string, status: string, o: Record<string, unknown> = {}) => ({ name, kind, status, recoveryPoint: { time: '2026-11-29T03:12:07.4Z', lsn: '0/5000000' }, tables: [], findings: [], durationMs: 10, lossWindowMs: 0, estimatedMaterializeMs: 4500, ...o });
  const report = {
    sources: [src('pitr', 'pitr', 'usable'), src('nightly', 'dump', 'usable', { lossWindowMs: 3 * 3600_000 }), src('san', 'snapshot', 'unusable', { findings: [{ level: 'error', code: 'X', message: 'no snapshot matches /mnt/snap/*/pgdata' }] })],
    ranking: ['pitr', 'nightly', 'san'],
  } as unknown as ProbeReport;

  it('ranked, best preselected, unusable shown with why and not selectable', async () => {
    const { answer, events, getScreen } = await render(select, sourcePrompt(report, 'pitr'));
    const screen = flat(getScreen());
    expect(screen).toContain(flat('❯ pitr (pitr) — usable, recovery point 2026-11-29 03:12:07.4 UTC, loses 0 ms, ~4.5 s to extract  [best]'));
    expect(screen).toContain(flat('nightly (dump) — usable, recovery point 2026-11-29 03:12:07.4 UTC, loses 3 h 0 min'));
    expect(screen).toContain(flat('unusable: no snapshot matches /mnt/snap/*/pgdata'));
    events.keypress('down');
    events.keypress('enter');
    await expect(answer).resolves.toBe('nightly');
  });
});

describe('collisions, the promote question, confirmations', () => {
  it('on-conflict defaults to fail; rekey-live is one key away', async () => {
    const { answer, events, getScreen } = await render(select, onConflictPrompt(4260));
    expect(getScreen()).toContain('Merge meets 4260 collision(s)');
    expect(getScreen()).toContain('❯ fail: change nothing live');
    events.keypress('up');
    events.keypress('up');
    events.keypress('enter');
    await expect(answer).resolves.toBe('rekey-live');
  });

  it('the last question defaults to changing nothing live; the table says what merge and replace would do', async () => {
    const merge = [
      { name: 'public.invoices', recoveredRows: 50035, missing: 48978, skipped: 0, conflicts: 1057 },
      { name: 'public.audit', recoveredRows: 10, missing: 0, skipped: 0, conflicts: 0, refused: 'no primary key' },
    ];
    const lines = promoteTableLines(merge, [
      { name: 'public.invoices', liveRows: 949, recoveredRows: 50035 },
      { name: 'public.audit', liveRows: null, recoveredRows: 10 },
    ]);
    expect(lines[1]).toMatch(/public\.invoices\s+949\s+50,035\s+48,978\s+1,057/);
    expect(lines[2]).toMatch(/public\.audit\s+—\s+10\s+refused\s+\(no primary key\)/);
    const { answer, events, getScreen } = await render(select, promotePrompt('undrop_20261129_031500', merge));
    expect(getScreen()).toContain('❯ not now: leave them in the side schema');
    expect(flat(getScreen())).toContain(flat('(1,057 collisions: you choose how next)'));
    events.keypress('down');
    events.keypress('enter');
    await expect(answer).resolves.toBe('merge');
  });

  it('a production write is confirmed only by a yes (default no)', async () => {
    const no = await render(confirm, confirmPrompt('Copy public.invoices from pitr into a new schema?'));
    no.events.keypress('enter');
    await expect(no.answer).resolves.toBe(false);
    const yes = await render(confirm, confirmPrompt('Copy public.invoices from pitr into a new schema?'));
    yes.events.type('y');
    yes.events.keypress('enter');
    await expect(yes.answer).resolves.toBe(true);
  });
});

describe('the inventory wizard', () => {
  it('asks for the production DSN and refuses an empty one', async () => {
    const { answer, events, getScreen } = await render(input, dsnPrompt());
    events.keypress('enter');
    await new Promise((r) => setTimeout(r, 10));
    expect(getScreen()).toContain('A DSN is needed');
    events.type('postgresql://app@db1:5432/shop');
    events.keypress('enter');
    await expect(answer).resolves.toBe('postgresql://app@db1:5432/shop');
  });
  it('each find is confirmed (default yes)', async () => {
    const { answer, events, getScreen } = await render(confirm, sourceFoundPrompt('pgBackRest stanza "main" in /etc/pgbackrest/pgbackrest.conf'));
    expect(flat(getScreen())).toContain(flat('Found pgBackRest stanza "main" in /etc/pgbackrest/pgbackrest.conf. Add it as a recovery source?'));
    events.keypress('enter');
    await expect(answer).resolves.toBe(true);
  });
});

describe('the equivalent command', () => {
  it('repeats the run without questions, quoted for a shell', () => {
    expect(equivalentCommand({ config: '/etc/undrop.yaml', tables: ['"Sales"."Order Items"', 'public.invoices'], event: ev('959', ['public.invoices']), source: 'pitr', mode: 'merge', onConflict: 'rekey-live' })).toBe(
      `undrop -c /etc/undrop.yaml recover --tables '"Sales"."Order Items",public.invoices' --target xid:959 --source pitr --mode merge --on-conflict rekey-live --yes`,
    );
    expect(equivalentCommand({ config: 'undrop.yaml', tables: ['shop'], event: ev('7', ['x'], { kind: 'drop-database' }), source: 'wal', mode: 'side-schema' })).toBe('undrop -c undrop.yaml recover --tables shop --target lsn:0/4F00000 --source wal --mode side-schema --yes');
  });
});

describe('the wizard\'s scan and the answer record', () => {
  it('recognises base backups with their WAL archive, dump folders and snapshot mounts', async () => {
    const { mkdtempSync, mkdirSync, rmSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { classifyFolder } = await import('../../src/inventory/scan.js');
    const root = mkdtempSync(join(tmpdir(), 'scan-'));
    mkdirSync(join(root, 'base', '20261129T0300Z'), { recursive: true });
    writeFileSync(join(root, 'base', '20261129T0300Z', 'backup_label'), '');
    mkdirSync(join(root, 'base', 'wal'));
    writeFileSync(join(root, 'base', 'wal', '000000010000000000000003'), '');
    mkdirSync(join(root, 'dumps'));
    writeFileSync(join(root, 'dumps', 'shop.dump'), '');
    mkdirSync(join(root, 'snap', 'a', 'pgdata', 'global'), { recursive: true });
    writeFileSync(join(root, 'snap', 'a', 'pgdata', 'PG_VERSION'), '15');
    expect(classifyFolder(join(root, 'base'))[0]!.source).toEqual({ kind: 'pitr', base_backups: join(root, 'base'), wal_archive: join(root, 'base', 'wal') });
    expect(classifyFolder(join(root, 'dumps'))[0]!.source).toEqual({ kind: 'dump', paths: [join(root, 'dumps', '*.dump'), join(root, 'dumps', '*.sql')] });
    expect(classifyFolder(join(root, 'snap'))[0]!.source).toEqual({ kind: 'snapshot', paths: [join(root, 'snap', '*', 'pgdata')] });
    expect(classifyFolder(join(root, 'nope'))).toEqual([]);
    rmSync(root, { recursive: true, force: true });
  });

  it('answers given before the incident folder exists are kept and written when it opens, with who and when', async () => {
    const { bindAnswers, recordAnswer } = await import('../../src/cli/answers.js');
    recordAnswer('production DSN', '(given)', 'interactive');
    const got: { type: string; data: Record<string, unknown> }[] = [];
    bindAnswers((type, data) => got.push({ type, data }));
    recordAnswer('Copy …?', true, '--yes');
    expect(got.map((g) => [g.type, g.data.question, g.data.by])).toEqual([
      ['answer', 'production DSN', 'interactive'],
      ['answer', 'Copy …?', '--yes'],
    ]);
    expect(got[1]!.data.at).toMatch(/^\d{4}-\d\d-\d\dT/);
  });
});
