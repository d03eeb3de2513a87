// The scorecard's pure parts: which truth a recovered copy equals, and when a
// drill scores perfect.
import { describe, expect, it } from 'vitest';
import { isPerfect, type Scorecard, sourceByChecksums } from '../../src/lab/score.js';
import { scorecardMarkdownText } from '../../src/lab/score-text.js';

const before = { 'public.a': { rows: 10, checksum: 'x10' }, 'public.b': { rows: 5, checksum: 'y5' } };
const snap = { 'public.a': { rows: 8, checksum: 'x8' }, 'public.b': { rows: 4, checksum: 'y4' } };
const truth = { beforeIncident: { at: '', tables: before }, snapshots: [{ path: '/s', takenAt: '', lsn: '0/1', tables: snap }], dumps: [{ path: '/d', format: 'custom', takenAt: '', labelledAt: '', valid: true, defect: null, tables: { 'public.a': { rows: 1, checksum: 'x1' }, 'public.b': { rows: 1, checksum: 'y1' } } }] } as never;

const card = (over: Partial<Scorecard>): Scorecard => ({
  scenario: 'seed',
  incidentAt: '2026-11-29T02:10:00.000Z',
  scoredAt: '2026-11-29T02:30:00.000Z',
  tables: [{ name: 'public.a', expectedRows: 10, recoveredRows: 10, lostRows: 0, exact: true, foundIn: 'undrop_1.a' }],
  rowsRecovered: 10,
  rowsLost: 0,
  timeToPauseMs: 4000,
  timeToRecoveredMs: 60_000,
  recoveredBasis: 'undrop verify',
  source: { used: 'pitr', best: 'delayed-replica', matchesBest: true, basis: 'undrop log' },
  productionWritesBeforeVerification: 0,
  mistakes: [],
  perfect: true,
  ...over,
});

describe('scorecard', () => {
  it('names the source a copy came from by its checksums', () => {
    expect(sourceByChecksums(truth, before)).toMatch(/zero-loss/);
    expect(sourceByChecksums(truth, snap)).toBe('snapshot');
    expect(sourceByChecksums(truth, { 'public.a': { rows: 1, checksum: 'x1' }, 'public.b': { rows: 1, checksum: 'y1' } })).toBe('dumps');
    expect(sourceByChecksums(truth, { 'public.a': { rows: 9, checksum: 'zz' } })).toBeNull();
  });

  it('is perfect only with every row back, the best source, no mistake and no write before verification', () => {
    expect(isPerfect(card({}))).toBe(true);
    expect(isPerfect(card({ tables: [{ name: 'public.a', expectedRows: 10, recoveredRows: 8, lostRows: 2, exact: false, foundIn: 's.a' }] }))).toBe(false);
    expect(isPerfect(card({ source: { used: 'dumps', best: 'snapshot', matchesBest: false, basis: 'checksums' } }))).toBe(false);
    expect(isPerfect(card({ productionWritesBeforeVerification: 1 }))).toBe(false);
    expect(isPerfect(card({ mistakes: [{ code: 'SIDE_SCHEMA_DROPPED_BEFORE_PROMOTE', message: 'gone', playbookStep: 'incident#afterwards' }] }))).toBe(false);
  });

  it('renders the loss by table and the mistakes with their runbook step', () => {
    const md = scorecardMarkdownText(
      card({
        perfect: false,
        rowsLost: 2,
        tables: [{ name: 'public.a', expectedRows: 10, recoveredRows: 8, lostRows: 2, exact: false, foundIn: 's.a' }],
        mistakes: [{ code: 'REPLICA_RESUMED_BEFORE_EXTRACTION', message: 'resumed', playbookStep: 'delayed-replica#pause' }],
      }),
    );
    expect(md).toContain('| public.a | 10 | 8 | 2 | no | s.a |');
    expect(md).toContain('Loss window: public.a 2 rows');
    expect(md).toContain('**REPLICA_RESUMED_BEFORE_EXTRACTION**: resumed (runbook step delayed-replica#pause)');
  });
});
