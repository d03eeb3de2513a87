// verify's human report: one line per source, its failed checks, then the verdict.
import type { RestoreTestResult } from '../../recovery/restore-test.js';
import { formatDuration } from '../../util/time.js';
import { say } from '../output.js';

export function printVerify(results: RestoreTestResult[], healthy: boolean): void {
  for (const r of results) {
    const rows = r.tables.reduce((n, t) => n + (t.rows ?? 0), 0);
    const what = r.checked === 'probed' ? 'probed, not restored' : 'restored';
    say(`${r.ok ? 'ok  ' : 'FAIL'}  ${r.name.padEnd(18)} ${r.kind.padEnd(16)} ${what.padEnd(20)} ${formatDuration(r.durationMs).padStart(9)}  ${!r.error ? `${r.probeStatus === 'usable' ? '' : `${r.probeStatus.toUpperCase()} — `}${r.tables.length} tables, ${rows} rows, recovery point ${r.recoveryPoint?.time ?? 'unknown'}` : `${r.error?.code}: ${r.error?.message}`}`);
    if (!r.ok && r.error?.hint) say(`      HINT: ${r.error.hint}`);
    for (const c of r.checks.filter((x) => !x.ok)) say(`      failed ${c.check}: ${c.message}`);
    for (const f of r.problems.slice(0, 5)) say(`      ${f.level}: ${f.message}`);
  }
  say(healthy ? 'Every source passed its restore test.' : 'At least one source is unhealthy (it failed to restore, a check failed, or the probe found a problem): fix it before you need it.');
}
