// bench/results/pitr-selective.md: the PITR selective-restore bench as a
// table per case (time, data directory allocated, device writes, verified).
import { cpus, loadavg, totalmem } from 'node:os';
import { formatBytes, formatDuration } from '../util/time.js';
import type { PitrSelectiveBenchResult } from './pitr-selective.js';

const CASES: Record<string, string> = {
  relations: 'one large database in which the lost tables are about 5 % (relation-level restore leaves its other table out)',
  database: 'a small target database beside a large other database (database-level restore leaves the other one out)',
};

export function pitrSelectiveMarkdown(results: Record<string, PitrSelectiveBenchResult>, o: { commit?: string; at: string; loadAtStart: number[] }): string {
  const out = [
    '# PITR materialize: `--selective relations` vs `database` vs `off` (full restore)',
    '',
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 1024 ** 3)} GB; node ${process.version}; commit ${o.commit ?? '?'}, ${o.at}. Load average (1 min) at start ${JSON.stringify(o.loadAtStart.map((x) => Math.round(x * 100) / 100))}, at end ${JSON.stringify(loadavg().map((x) => Math.round(x * 100) / 100))}: other engineers' work shared this machine; one run per cell. Time: materializePitr from start to a promoted instance with the lost tables counted (restore + WAL replay + checks). "Device wrote": sectors written to the disk during the run (WAL restore and checkpoints included; other activity on the disk adds noise). Verified: the lost tables' checksums equal those taken on the primary just before the DROP.`,
  ];
  for (const [c, r] of Object.entries(results)) {
    out.push('', `## ${CASES[c] ?? c}`, '', `Target database ${formatBytes(r.targetDbBytes)} (lost tables with indexes and TOAST: ${formatBytes(r.lostBytes)}, ${((100 * r.lostBytes) / r.targetDbBytes).toFixed(1)} %); other database ${formatBytes(r.otherDbBytes)}; backups: ${Object.entries(r.backupBytes).map(([f, b]) => `${f} ${formatBytes(b)}`).join(', ')}.`, '');
    out.push('| backup | --selective | time | ÷ full | data directory allocated | device wrote | verified |', '|---|---|---|---|---|---|---|');
    for (const x of r.runs) {
      const full = r.runs.find((y) => y.format === x.format && y.level === 'off');
      out.push(`| ${x.format === 'tar' ? 'tar.gz' : 'plain'} | ${x.level} | ${formatDuration(x.ms)} | ${full ? `${(x.ms / full.ms).toFixed(2)}×` : '—'} | ${formatBytes(x.dataDirAllocated)} of ${formatBytes(x.dataDirApparent)} | ${x.deviceWritten !== undefined ? formatBytes(x.deviceWritten) : '—'} | ${x.verified ? 'yes' : '**no**'} |`);
    }
  }
  return `${out.join('\n')}\n`;
}
