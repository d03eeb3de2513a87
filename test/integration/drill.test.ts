// The README's main command, as a user runs it: a whole drill from the
// incident to recovered tables, scored against the lab's ground truth.
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { labDown } from '../../src/lab/down.js';
import { labLayout } from '../../src/lab/layout.js';
import { undrop } from '../cli.js';
import { testWorkDir } from '../helpers.js';

const root = mkdtempSync(join(testWorkDir(), 'drill-'));
chmodSync(root, 0o755);
const dir = join(root, 'lab');

afterAll(async () => {
  if (existsSync(dir)) await labDown(labLayout(dir)).catch(() => {});
  if (!existsSync(dir)) rmSync(root, { recursive: true, force: true });
});

describe('undrop lab drill', () => {
  it('goes from the incident to every lost row back, checksums equal to truth.json, and cleans up', async () => {
    const r = await undrop(['--json', 'lab', 'drill', '--dir', dir, '--scale', '2000']);
    expect(r.exitCode, r.stderr.slice(-2000)).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.steps.map((s: { id: string; ok: boolean }) => `${s.id}:${s.ok}`)).toEqual(['up:true', 'incident:true', 'status:true', 'probe:true', 'locate:true', 'recover:true', 'score:true']);
    expect(doc.results.locate.events[0].xid).toBe(doc.results.incident.truth.incident.xid);
    expect(doc.results.score).toMatchObject({ exact: true, rowsMissing: 0 });
    // lab score's card: perfect after a non-interactive recover (every row, a zero-loss source, no mistake)
    const card = doc.results.score.scorecard;
    expect(card).toMatchObject({ perfect: true, rowsLost: 0, productionWritesBeforeVerification: 0, mistakes: [], recoveredBasis: 'undrop verify' });
    expect(card.tables.map((t: { lostRows: number; exact: boolean }) => `${t.exact}:${t.lostRows}`)).toEqual(['true:0', 'true:0', 'true:0']);
    expect(card.source.used).toBe(doc.results.score.source);
    expect(card.timeToRecoveredMs).toBeGreaterThan(0);
    expect(card.timeToPauseMs).not.toBeNull(); // recover pauses the delayed replica first
    expect(['pitr', 'backrest']).toContain(doc.results.score.source);
    expect(existsSync(dir)).toBe(false);
  });

  it('prints the same verdict for a person (no --json): the score line, one line per table, the finish line', async () => {
    const r = await undrop(['lab', 'drill', '--dir', dir, '--scale', '2000']);
    expect(r.exitCode, r.stderr.slice(-2000)).toBe(0);
    expect(r.stdout).toMatch(/^Score: every lost row is back \(source (pitr|backrest)\); checksums equal truth\.json\.$/m);
    for (const t of ['public.shipments', 'public.shipment_events', 'public.invoices']) {
      expect(r.stdout).toMatch(new RegExp(`^  ${t.replace('.', '\\.')}\\s+(\\d+) / +\\1 rows  checksum equal$`, 'm'));
    }
    expect(r.stdout).toMatch(/^Drill finished in .*: up .*, incident .*, score .*\.$/m);
    expect(r.stdout).toContain('The lab was removed (lab down).');
    expect(existsSync(dir)).toBe(false);
  });
});
