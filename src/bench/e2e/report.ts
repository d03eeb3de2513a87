// The end-to-end bench's results as Markdown and as an SVG bar chart. Pure.
import type { CaseResult, E2eResult } from './index.js';

const s = (ms: number | null | undefined) => (ms === null || ms === undefined ? '—' : `${(ms / 1000).toFixed(2)} s`);
const x = (r: number | null) => (r === null ? '—' : `${r.toFixed(2)}×`);

/** Phases of materialize and probe (the parts inside those steps), in the order they ran. */
function phaseLine(c: CaseResult): string {
  return Object.entries(c.undrop.phases ?? {})
    .filter(([, ms]) => ms >= 20)
    .map(([k, ms]) => `${k} ${s(ms)}`)
    .join(', ');
}

function stepLine(c: CaseResult): string {
  return Object.entries(c.undrop.steps)
    .filter(([, ms]) => ms >= 50)
    .map(([k, ms]) => `${k} ${s(ms)}`)
    .join(', ');
}

/** Per table: "t copy / checksum / keys; source checksum" from the loads' timeline events (— in results from before them). */
function loadPartsLine(c: CaseResult): string {
  const parts = c.undrop.loadParts ?? {};
  const tables = [...new Set(Object.keys(parts).map((k) => k.slice(0, k.lastIndexOf(': '))))];
  if (!tables.length) return '—';
  return tables.map((t) => `${t} ${s(parts[`${t}: copy`])} / ${s(parts[`${t}: checksum`])} / ${s(parts[`${t}: keys`])}; ${s(parts[`${t}: source checksum`])}`).join(', ');
}

/** Verification's cost, from the control runs (— when none ran). */
const costCell = (c: CaseResult) => (c.verifyCost === undefined || !c.control ? '—' : `${Math.round(c.verifyCost * 100)} % (${s(c.control.medianMs)})`);

/** The lost tables' share of the cluster (the seed goal's condition), when recorded. Pure. */
export function compositionText(r: E2eResult): string {
  const c = r.composition;
  if (!c) return '';
  const pct = (100 * c.lostBytes) / c.clusterBytes;
  return ` The lost tables, with their TOAST and indexes, are ${bytes(c.lostBytes)} of the cluster's ${bytes(c.clusterBytes)} (${pct.toFixed(1)} %, before the incident).`;
}

const bytes = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : `${Math.round(n / 1e6)} MB`);

export function e2eMarkdown(r: E2eResult): string {
  const m = r.machine;
  const out = [
    `# End-to-end bench: \`undrop recover\` vs the manual procedure (scale ${r.scale})`,
    '',
    `${r.rowsLost.toLocaleString('en')} rows lost in three tables (TOASTed text and jsonb) of database "shipping"; a second database "ledger" (${r.otherRows.toLocaleString('en')} rows of ~1 kB) is not lost; a pgbench workload runs on the primary throughout. Median of ${r.runs} run(s) per side, sides alternating which goes first${r.cases.some((c) => c.control) ? ', the control (hashing off) run next to each undrop run' : ''}.${compositionText(r)}`,
    '',
    ...(r.notes?.length ? [r.notes.join(' '), ''] : []),
    `Machine: ${m.cores} × ${m.cpu}, ${m.memoryGb} GB, ${m.postgres}, ${m.pgbackrest}, node ${m.node}, ${m.kernel}; commit ${m.commit}, ${m.at}. Load average (1 min) at start ${JSON.stringify(m.loadAvgAtStart)}, at end ${JSON.stringify(m.loadAvgAtEnd)} (the bench's own lab and workload count in it; so does any other work on the machine, which makes absolute times noisy); the ratios compare runs made side by side.`,
    '',
    '| source | undrop (to verified side schema) | manual script | physical floor | undrop ÷ manual | undrop ÷ floor | verification: cost (control, hashing off) | checksums\' wall span | undrop rows = manual rows | = lab truth | identity proven (tables, all runs) | load avg |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...r.cases.map((c) => `| ${c.label} | ${s(c.undrop.medianMs)} | ${s(c.manual.medianMs)} | ${s(c.floorMs)} | ${x(c.ratioManual)} | ${x(c.ratioFloor)} | ${costCell(c)} | ${Math.round(c.verifyShare * 100)} % | ${c.checksumsEqualManual ? 'yes' : '**no**'} | ${c.kind === 'pitr' || c.kind === 'pgbackrest' ? (c.checksumsEqualTruth ? 'yes' : '**no**') : 'n/a (older state)'} | ${c.identityProven ?? '—'} | ${c.loadAvg.join(', ')} |`),
    '',
    '## Where the time goes',
    '',
    '| source | manual: copy / replay / rows | floor: copy + replay + one binary COPY per table | undrop steps (median) | replica paused after |',
    '|---|---|---|---|---|',
    ...r.cases.map((c) => `| ${c.label} | ${s(c.manual.phases.copyMs)} / ${s(c.manual.phases.replayMs)} / ${s(c.manual.phases.rowsMs)} | ${c.floorParts ? `${s(c.floorParts.copyMs)} + ${s(c.floorParts.replayMs)} + ${s(c.floorParts.rowsMs)}` : '—'} | ${stepLine(c)} | ${s(c.undrop.replicaPausedMs)} |`),
    '',
    '| source | inside the loads, per table (median): COPY / production checksum / keys and indexes; source checksum (alongside) |',
    '|---|---|',
    ...r.cases.map((c) => `| ${c.label} | ${loadPartsLine(c)} |`),
    '',
    '### Inside probe and materialize (phases, median)',
    '',
    '| source | phases |',
    '|---|---|',
    ...r.cases.map((c) => `| ${c.label} | ${phaseLine(c) || '—'} |`),
    '',
    'What each column is: **undrop** is `undrop recover --source S --tables … --target xid:N --yes` started as a new process, until it exits with the side schema copied and verified (node start, probe, materialize, identity check, copy back with checksums of both sides, report). **manual** is the script an expert would type (src/bench/e2e/manual.ts): copy the backup (`cp -a`, `pgbackrest restore`), the same exclusive recovery target, `pg_ctl start`, wait for promotion, `pg_dump -Fc -t … | pg_restore` into a scratch database on production — with no verification; for the dump, `pg_restore -t` (tables and rows, no indexes); for the replica, pause replay then dump. **floor** is the manual run\'s own copy and replay phases plus one binary COPY per table into unindexed tables. The dump has no floor (the manual restore is already only the rows). **verification: cost** is what hashing adds to the run: the same recover from a control build whose checksums count rows and hash nothing (`src/build/bundle.ts`, never shipped), run beside each undrop run; 1 − control ÷ undrop on the medians, and the control\'s median time. A single run here varies by ±0.5 s, more than hashing costs at the default scale: read it with the runs\' spread in the JSON. The control still reads every row once per side (its count), as any copy reporting its rows would; its rows are checked against the lab\'s truth like undrop\'s. **checksums\' wall span**: the wall time during which production-side checksums ran (tables load in parallel; overlapping checksums counted once, other tables\' loads run meanwhile: it overstates the checksums\' own time and leaves out what they cost the loads beside them), plus any wait for the source side after the publishing commit or for the identity verdict before it (which waits for the source checksums\' row counts), plus the comparison, over the whole run. **identity proven**: the tables, over every undrop run, whose JSON says `identity: proven` (the WAL the run read shows the hand-given xid destroying that very file); "not proven" costs no time a proof would, so a run that proves less is not comparable. Steps overlap: "check the target in WAL (alongside)" runs during probe and materialize, and the per-table loads run together. **Phases** are the timed parts inside probe and materialize (timeline `phase-end` events), named by the instance or source they belong to ("pitr: …", "probe pitr: …"; "locate-catalog: …" is the alongside WAL scan\'s own temporary instance); nested and overlapping phases are each shown whole.',
    '',
  ];
  return out.join('\n');
}

/** Horizontal bars: per source, undrop / manual / floor in seconds. */
export function e2eSvg(r: E2eResult): string {
  const rows = r.cases;
  const max = Math.max(1, ...rows.flatMap((c) => [c.undrop.medianMs, c.manual.medianMs, c.floorMs ?? 0]));
  const left = 190;
  const width = 760;
  const barW = width - left - 80;
  const group = 62;
  const height = 50 + rows.length * group + 30;
  const colors = { undrop: '#2b6cb0', manual: '#dd6b20', floor: '#718096' };
  const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${esc(`undrop recover vs manual procedure vs physical floor (scale ${r.scale}, median of ${r.runs})`)}</text>`,
  ];
  rows.forEach((c, i) => {
    const y0 = 40 + i * group;
    parts.push(`<text x="10" y="${y0 + 26}">${esc(c.label)}</text>`);
    const bars: [keyof typeof colors, number | null][] = [['undrop', c.undrop.medianMs], ['manual', c.manual.medianMs], ['floor', c.floorMs]];
    bars.forEach(([k, ms], j) => {
      if (ms === null) return;
      const w = Math.max(1, Math.round((ms / max) * barW));
      const y = y0 + j * 17;
      parts.push(`<rect x="${left}" y="${y}" width="${w}" height="14" fill="${colors[k]}"/>`);
      parts.push(`<text x="${left + w + 5}" y="${y + 11}">${esc(`${k} ${(ms / 1000).toFixed(2)} s`)}</text>`);
    });
  });
  const ly = height - 18;
  parts.push(...Object.entries(colors).map(([k, col], j) => `<rect x="${left + j * 120}" y="${ly - 10}" width="12" height="12" fill="${col}"/><text x="${left + j * 120 + 16}" y="${ly}">${k}</text>`));
  parts.push('</svg>');
  return parts.join('\n');
}
