// Nagios plugin output: one line "UNDROP VERIFY OK|CRITICAL - …" with
// performance data, and the plugin exit codes (0 OK, 2 CRITICAL). Pure.
import type { RestoreTestResult } from '../recovery/restore-test.js';

export const NAGIOS_EXIT = { ok: 0, warning: 1, critical: 2, unknown: 3 } as const;

export function nagiosLine(results: RestoreTestResult[]): { line: string; exitCode: number } {
  const failed = results.filter((r) => !r.ok);
  const perf = results.map((r) => `'${r.name.replace(/'/g, '')}_seconds'=${(r.durationMs / 1000).toFixed(1)}s`).join(' ');
  if (results.length === 0) return { line: 'UNDROP VERIFY UNKNOWN - no source in the inventory', exitCode: NAGIOS_EXIT.unknown };
  if (failed.length === 0) return { line: `UNDROP VERIFY OK - ${results.length} source(s) passed|${perf}`, exitCode: NAGIOS_EXIT.ok };
  const why = failed.map((r) => `${r.name}: ${r.checks.filter((c) => !c.ok).map((c) => c.check).join(',') || 'failed'}`).join('; ');
  return { line: `UNDROP VERIFY CRITICAL - ${failed.length} of ${results.length} source(s) failed (${why})|${perf}`, exitCode: NAGIOS_EXIT.critical };
}
