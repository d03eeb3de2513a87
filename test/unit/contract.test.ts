// The README's "JSON documents" list is the contract scripts rely on. Every
// field it names must be printed by the command (built here by the same
// functions the commands use) and typed in src/contract.ts.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { probeDocument } from '../../src/cli/actions/probe.js';
import { errorDocument } from '../../src/cli/output.js';
import type { PauseDocument, PromoteDocument, ResumeDocument, VerifyDocument } from '../../src/contract.js';
import { usageError } from '../../src/errors.js';
import type { IncidentFacts } from '../../src/recovery/incident-facts.js';
import { type LocateResult, locateJson } from '../../src/recovery/locate/index.js';
import { recoverJson } from '../../src/recovery/report.js';
import { getPlaybook } from '../../src/playbooks/load.js';
import { fillPlaybook } from '../../src/playbooks/render.js';
import type { ProbeReport } from '../../src/sources/probe-all.js';

/** A documented field: its name, what it holds (fields, one element's fields, or the values allowed). */
interface Field {
  key: string;
  children?: Field[];
  array?: boolean;
  values?: unknown[];
  nullable?: boolean;
}

/** Read DESIGN.md's notation: {"a", "b": {"c"}|null, "d": [{"e"}], "f": "x"|"y", "g": false}. */
function parseSpec(text: string): Field[] {
  const tokens = text.match(/"[^"]*"|[{}[\]:,|]|[^\s{}[\]:,|"]+/g) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const next = () => tokens[i++]!;
  function object(): Field[] {
    expect(next()).toBe('{');
    const out: Field[] = [];
    while (peek() !== '}') {
      const key = JSON.parse(next()) as string;
      const f: Field = { key };
      if (peek() === ':') {
        next();
        value(f);
      }
      out.push(f);
      if (peek() === ',') next();
    }
    next();
    return out;
  }
  function value(f: Field): void {
    for (;;) {
      const t = peek();
      if (t === '{') f.children = object();
      else if (t === '[') {
        next();
        f.array = true;
        if (peek() === '{') f.children = object();
        while (peek() !== ']') next(); // "[names, best first]": a list of plain values
        next();
      } else if (t === 'null') {
        next();
        f.nullable = true;
      } else (f.values ??= []).push(JSON.parse(next()));
      if (peek() !== '|') return;
      next();
    }
  }
  return object();
}

function readmeSpecs(): Map<string, Field[]> {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### JSON documents'), readme.indexOf('\n#', readme.indexOf('### JSON documents') + 5));
  const out = new Map<string, Field[]>();
  for (const m of section.matchAll(/^- (?:`(\w+)`|any failure): `(\{.*\})`$/gm)) out.set(m[1] ?? 'error', parseSpec(m[2]!));
  return out;
}

/**
 * Every documented field is present in doc (in every element of a documented
 * list) with an allowed value; `seen` collects the fields this doc shows at
 * least once, so a fixture with only empty lists proves nothing.
 */
function missing(fields: Field[], doc: unknown, seen: Set<string>, path = ''): string[] {
  const out: string[] = [];
  for (const f of fields) {
    const at = `${path}.${f.key}`;
    if (doc === null || typeof doc !== 'object' || !(f.key in doc)) {
      out.push(at);
      continue;
    }
    seen.add(at);
    const v = (doc as Record<string, unknown>)[f.key];
    if (v === null && (f.nullable || !f.children)) continue;
    if (f.values && !f.values.includes(v)) out.push(`${at} = ${JSON.stringify(v)}`);
    if (f.array) {
      if (!Array.isArray(v)) out.push(`${at}: expected a list`);
      else if (f.children) for (const el of v) out.push(...missing(f.children, el, seen, `${at}[]`));
    } else if (f.children) out.push(...missing(f.children, v, seen, at));
  }
  return out;
}

function paths(fields: Field[], path = ''): string[] {
  return fields.flatMap((f) => [`${path}.${f.key}`, ...paths(f.children ?? [], `${path}.${f.key}${f.array ? '[]' : ''}`)]);
}

// contract.ts and the modules it takes types from (a document may list another module's type, defined once there).
const contractFile = readFileSync(new URL('../../src/contract.ts', import.meta.url), 'utf8');
const contractSource = [contractFile, ...[...contractFile.matchAll(/^import type .* from '\.\/(.+)\.js';$/gm)].map((m) => readFileSync(new URL(`../../src/${m[1]}.ts`, import.meta.url), 'utf8'))].join('\n');
function untyped(fields: Field[]): string[] {
  return fields.flatMap((f) => [...(new RegExp(`\\b${f.key}\\??: `).test(contractSource) ? [] : [f.key]), ...untyped(f.children ?? [])]);
}

const point = { time: '2026-11-25T01:42:48Z', lsn: '0/16636A70', xid: '29519' };

const probeReport: ProbeReport = {
  sources: [
    {
      name: 'wal',
      kind: 'pitr',
      status: 'usable',
      recoveryPoint: point,
      tables: [{ name: 'public.shipments', present: true, rows: 60000 }],
      findings: [{ level: 'info', code: 'BACKUP_CHOSEN', message: 'newest base backup' }],
      items: [{ label: 'base-1', status: 'usable', recoveryPoint: point, findings: [] }],
      lossWindowMs: 0,
      durationMs: 12,
    },
    { name: 'nightly', kind: 'dump', status: 'unusable', recoveryPoint: null, tables: [], findings: [{ level: 'error', code: 'DUMP_ERROR_TEXT', message: 'an error message, not a dump' }], durationMs: 3 },
  ],
  ranking: ['wal', 'nightly'],
  production: { reachable: true, systemIdentifier: '7441', serverVersion: '15.8', error: null },
  target: null,
  durationMs: 20,
};

const relation = { relfilenode: 16412, name: 'public.shipments', oid: 16406, relkind: 'r', files: [16412], rows: 60000, rowsKind: 'exact' as const };
const located: LocateResult = {
  events: [
    {
      kind: 'drop',
      xid: '29519',
      lsn: '0/16636A70',
      firstLsn: '0/165DEEE8',
      commitLsn: '0/16636A70',
      commitTime: '2026-11-25T01:42:48.715829Z',
      timeline: 1,
      database: { oid: 16385, name: 'shipping' },
      relations: [relation],
      recreated: [{ ...relation, relfilenode: 16500 }],
      rowsLost: 60000,
      rowsKind: 'exact',
      catalog: 'production',
      target: { xid: '29519', inclusive: false, timeline: '1' },
      notes: [],
    },
  ],
  ignored: [],
  undrop: [],
  wal: { source: '/backups/wal', segments: 3, timeline: 1, timelines: [1], pgWaldumpMajor: 15, records: 1000, commits: 10, maxOpenTransactions: 2, gaps: [] },
  catalogs: ['production'],
  warnings: [],
  durationMs: 40,
};

const facts = {
  startedAt: '2026-11-25T02:00:00Z',
  mode: 'side-schema',
  chosen: { name: 'wal', reason: 'best' },
  materialized: { source: 'wal', recoveryPoint: point, tables: [{ name: 'public.shipments', rows: 60000 }], notes: [] },
  copyBack: { schema: 'undrop_20261125_020000', tables: [{ name: 'public.shipments', recoveredAsName: 'undrop_20261125_020000.shipments', rows: 60000 }] },
  verify: { tables: [{ name: 'public.shipments', copy: { checksum: 'abc' } }] },
} as unknown as IncidentFacts;

const verifyDoc: VerifyDocument = {
  healthy: false,
  sources: [
    { name: 'nightly', kind: 'dump', ok: false, checked: 'restored', probeStatus: 'unusable', problems: [], recoveryPoint: null, sizeBytes: 1024, tables: [{ name: 'public.t', rows: null }], checks: [{ check: 'restore', ok: false, message: 'failed' }], durationMs: 5, error: { code: 'DUMP_RESTORE_FAILED', message: 'failed' }, notes: [] },
  ],
};

const promoteDoc: PromoteDocument = {
  schema: 'undrop_20261125_020000',
  mode: 'merge',
  source: 'wal',
  recoveryPoint: { time: point.time, lsn: point.lsn },
  verifiedAt: '2026-11-25T02:01:00Z',
  tables: [{ name: 'public.invoices', recoveredAs: 'undrop_20261125_020000.invoices', rows: 10, checksum: 'abc' }],
  promoted: {
    mode: 'merge',
    onConflict: 'rekey-live',
    committed: true,
    tables: [{ name: 'public.invoices', inserted: 10, skipped: 0, conflicts: 2, otherUnique: 0, conflictsTable: 'undrop_20261125_020000.invoices__conflicts', resolution: 'rekeyed-live', rekeyed: 2, sample: [] }],
  },
  nextSteps: [],
  durationMs: 5,
  report: '/tmp/report.md',
};

describe('the JSON contract (README "JSON documents")', () => {
  const specs = readmeSpecs();
  const docs: Record<string, unknown> = {
    probe: probeDocument(probeReport, [{ table: 'public.invoices', liveRows: 37, liveMaxKey: '37', sourceRows: 1500, source: 'wal', message: 'keys look restarted' }]),
    locate: locateJson(located),
    recover: { ...recoverJson(facts, '/tmp/report.md', 1000), nextSteps: [], promoted: null },
    verify: verifyDoc,
    promote: promoteDoc,
    error: errorDocument(usageError('CONFIG_MISSING', 'No undrop.yaml here.', 'Pass -c FILE.')),
    playbook: fillPlaybook(getPlaybook('pitr'), { values: {}, source: null, notes: [] }),
    pause: { replicas: [{ name: 'replica-4h', outcome: 'paused', safe: true, delayMs: 14_400_000, replayTime: point.time, replayLsn: point.lsn, lagMs: 14_000_000, leftMs: 60_000, pausedAt: point.time }], safe: true } satisfies PauseDocument,
    resume: { replicas: [{ name: 'replica-4h', outcome: 'resumed', replayTime: point.time, delayMs: 14_400_000 }] } satisfies ResumeDocument,
  };

  it('lists every document', () => {
    expect([...specs.keys()].sort()).toEqual(Object.keys(docs).sort());
  });

  for (const name of ['probe', 'locate', 'recover', 'verify', 'promote', 'error', 'pause', 'resume', 'playbook']) {
    it(`${name}: every documented field is printed and typed in src/contract.ts`, () => {
      const spec = specs.get(name)!;
      expect(spec.length).toBeGreaterThan(0);
      const seen = new Set<string>();
      expect(missing(spec, docs[name], seen)).toEqual([]);
      expect(paths(spec).filter((p) => !seen.has(p))).toEqual([]);
      expect(untyped(spec)).toEqual([]);
    });
  }
});
