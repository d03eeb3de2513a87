// Prometheus textfile-collector output (node_exporter --collector.textfile):
// written to a temporary file beside the target and renamed over it, so the
// collector never reads half a file. The last-success timestamp of a source
// that failed this time is carried over from the previous file.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { RestoreTestResult } from '../recovery/restore-test.js';

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

/** undrop_verify_last_success_timestamp_seconds per source from an earlier file (missing or unreadable: none). */
export function previousSuccess(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const re = /^undrop_verify_last_success_timestamp_seconds\{source="((?:[^"\\]|\\.)*)"[^}]*\}\s+([0-9.eE+-]+)/gm;
  for (const m of text.matchAll(re)) out.set(m[1]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)), Number(m[2]));
  return out;
}

export function renderProm(results: RestoreTestResult[], previous: Map<string, number>, now: Date): string {
  const lines: string[] = [];
  const metric = (name: string, help: string, rows: [Record<string, string>, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const [labels, v] of rows) lines.push(`${name}{${Object.entries(labels).map(([k, x]) => `${k}="${esc(x)}"`).join(',')}} ${Number.isFinite(v) ? v : 'NaN'}`);
  };
  const src = (r: RestoreTestResult) => ({ source: r.name, kind: r.kind });
  const nowS = Math.floor(now.getTime() / 1000);
  metric('undrop_source_usable', '1 when the source passed its restore test (every check), else 0.', results.map((r) => [src(r), r.ok ? 1 : 0]));
  metric('undrop_source_recovery_point_age_seconds', 'Seconds between the newest state the source gives back and this run.', results.filter((r) => r.recoveryPoint?.time).map((r) => [src(r), Math.max(0, Math.round((now.getTime() - Date.parse(r.recoveryPoint!.time!)) / 1000))]));
  metric('undrop_source_size_bytes', 'Size of what a restore of the source copies.', results.filter((r) => r.sizeBytes !== null).map((r) => [src(r), r.sizeBytes!]));
  metric('undrop_verify_duration_seconds', 'How long the restore test of the source took.', results.map((r) => [src(r), r.durationMs / 1000]));
  metric('undrop_verify_last_success_timestamp_seconds', 'Unix time of the last restore test the source passed (kept across runs).', results.flatMap((r) => {
    const t = r.ok ? nowS : previous.get(r.name);
    return t === undefined ? [] : [[src(r), t] as [Record<string, string>, number]];
  }));
  metric('undrop_verify_check_failed', '1 for each check of the source that failed this run, 0 for one that passed.', results.flatMap((r) => r.checks.map((c) => [{ ...src(r), check: c.check }, c.ok ? 0 : 1] as [Record<string, string>, number])));
  return lines.join('\n') + '\n';
}

export function writePromFile(path: string, results: RestoreTestResult[], now = new Date()): void {
  let previous = new Map<string, number>();
  try {
    previous = previousSuccess(readFileSync(path, 'utf8'));
  } catch {
    // first run
  }
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, renderProm(results, previous, now), { mode: 0o644 });
  renameSync(tmp, path);
}
