// The postmortem report (Markdown) and the `recover` JSON document, from the
// facts gathered in the incident log. Pure: no I/O.
import type { RecoverDocument } from '../contract.js';
import { formatDuration } from '../util/time.js';
import type { IncidentFacts, StepRecord } from './incident-facts.js';

function code(s: string): string {
  return '`' + s.replace(/`/g, "'") + '`';
}

function cell(s: string | number | null | undefined): string {
  return String(s ?? '—').replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function table(head: string[], rows: (string | number | null | undefined)[][]): string[] {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)];
}

/** Milliseconds between the recovery point and the incident, when both times are known. */
export function lossWindowMs(f: IncidentFacts): number | null {
  const chosen = f.probes?.find((p) => p.name === f.chosen?.name);
  if (chosen?.lossWindowMs !== undefined && chosen.lossWindowMs !== null) return chosen.lossWindowMs;
  const rp = f.materialized?.recoveryPoint.time ?? chosen?.recoveryPoint?.time;
  const incident = f.target?.time ?? f.incident?.commitTime;
  if (!rp || !incident) return null;
  return Math.max(0, Date.parse(incident) - Date.parse(rp));
}

export function renderReport(f: IncidentFacts, steps: StepRecord[], paths: { timeline: string }): string {
  const L: string[] = [];
  const ok = f.outcome?.ok;
  L.push(`# Incident recovery report`, '');
  L.push(`- Started: ${f.startedAt}${f.finishedAt ? `, finished: ${f.finishedAt}` : ''}`);
  L.push(`- Outcome: ${ok === undefined ? 'unknown (report written before the end)' : ok ? '**recovered**' : '**failed**'}`);
  if (f.outcome?.error) L.push(`- Error: ${f.outcome.error.code ? code(f.outcome.error.code) + ' ' : ''}${f.outcome.error.message}${f.outcome.error.hint ? ` — ${f.outcome.error.hint}` : ''}`);
  if (f.production) L.push(`- Production: ${f.production}`);
  if (f.mode) L.push(`- Mode: ${f.mode}`);
  L.push(`- Timeline (every step, command and LSN): ${code(paths.timeline)}`, '');

  L.push('## What was lost', '');
  if (f.tables?.length) L.push(`Tables: ${f.tables.map(code).join(', ')}.`);
  if (f.incident) {
    const i = f.incident;
    L.push(`Destructive transaction: ${i.kind ?? 'unknown kind'}${i.xid ? `, xid ${i.xid}` : ''}${i.lsn ? `, LSN ${i.lsn}` : ''}${i.commitTime ? `, committed ${i.commitTime}` : ''}.`);
  }
  if (f.target) {
    const t = f.target;
    const parts = [t.xid ? `xid ${t.xid}` : '', t.commitLsn ? `LSN ${t.commitLsn}` : '', t.time ? `time ${t.time}` : ''].filter(Boolean);
    L.push(`Recovery target: ${parts.length ? parts.join(', ') : t.kind}${t.kind === 'latest' ? '' : ' (exclusive)'}; from ${t.origin}.`);
  }
  L.push('');

  if (f.probes?.length) {
    L.push('## Sources considered', '');
    const order = f.ranking ?? f.probes.map((p) => p.name);
    const sorted = [...f.probes].sort((a, b) => (order.indexOf(a.name) + 1 || 1e9) - (order.indexOf(b.name) + 1 || 1e9));
    L.push(
      ...table(
        ['source', 'kind', 'status', 'recovery point', 'loss window', 'used', 'why'],
        sorted.map((p) => {
          const used = p.name === f.chosen?.name;
          const why = used ? f.chosen!.reason : (p.findings.find((x) => x.level === 'error') ?? p.findings.find((x) => x.level === 'warn'))?.message ?? (p.status === 'usable' ? 'a better source was available' : '');
          return [p.name, p.kind, p.status, p.recoveryPoint?.time ?? p.recoveryPoint?.lsn ?? null, p.lossWindowMs == null ? null : formatDuration(p.lossWindowMs), used ? 'yes' : 'no', why];
        }),
      ),
      '',
    );
  }

  if (f.materialized) {
    const m = f.materialized;
    L.push('## Recovery point', '');
    L.push(`Source ${code(m.source)} was materialized at ${m.recoveryPoint.time ?? 'an unknown time'}${m.recoveryPoint.lsn ? ` (LSN ${m.recoveryPoint.lsn})` : ''}${m.recoveryPoint.basis ? `, ${m.recoveryPoint.basis}` : ''}.`);
    const loss = lossWindowMs(f);
    L.push(loss === null ? 'Loss window: unknown.' : `Loss window: ${formatDuration(loss)} of changes to these tables made before the incident are not in the recovered copy.`);
    if (m.tables.length) L.push('', ...table(['table', 'rows in source'], m.tables.map((t) => [t.name, t.rows])));
    for (const n of m.notes) L.push(`- ${n}`);
    L.push('');
    if (m.sourceConfig) {
      const sc = m.sourceConfig;
      L.push('## Source configuration set aside', '');
      L.push(`The temporary instance ran on undrop's own minimal configuration. The source's files (${sc.files.map(code).join(', ') || 'none'}) were moved to ${code(sc.dir)} and not used.`, '');
      if (sc.dropped.length) L.push(...table(['setting', 'value', 'file', 'why it matters'], sc.dropped.map((d) => [d.name, d.value, d.file, d.danger ?? ''])), '');
      for (const inc of sc.outsideIncludes) L.push(`- Include outside the data directory, not read: ${code(inc)}`);
      if (sc.outsideIncludes.length) L.push('');
    }
  }

  if (f.identity?.length) {
    L.push('## Identity check', '');
    L.push('Does the source hold the lost table, and not the table that replaced it? (physical sources: the relfilenode or row count the incident removed; dumps: taken before the incident)', '');
    L.push(...table(['table', 'identity', 'why'], f.identity.map((i) => [i.name, i.status === 'failed' ? '**FAILED**' : i.status === 'not-proven' ? 'identity not proven' : 'proven', i.reason])), '');
  }

  if (f.copyBack) {
    const c = f.copyBack;
    L.push('## What was written where', '');
    L.push(`Side schema ${code(c.schema)} in production, published at once by one rename (LSN ${c.production.lsnBefore ?? '?'} → ${c.production.lsnAfter ?? '?'}).`, '');
    const verified = new Map((f.verify?.tables ?? []).map((v) => [v.name, v]));
    L.push(
      ...table(
        ['table', 'recovered as', 'rows', 'checksum', 'verified'],
        c.tables.map((t) => {
          const v = verified.get(t.name);
          return [t.name, t.recoveredAsName, t.rows, v?.copy.checksum ?? null, v ? (v.match ? 'match' : '**MISMATCH**') : 'not verified'];
        }),
      ),
    );
    if (c.foreignKeysLeftOut.length) {
      L.push('', 'Foreign keys left out (they point at tables that were not recovered):');
      for (const fk of c.foreignKeysLeftOut) L.push(`- ${code(fk.name)} on ${code(`${fk.table.schema}.${fk.table.name}`)}: ${code(fk.definition)}`);
    }
    L.push('');
  }
  if (f.replace) {
    L.push('## Promoted (replace)', '');
    L.push(...table(['table', 'rows now', 'old live table kept as', 'its rows'], f.replace.tables.map((t) => [t.name, t.rows, t.liveRenamedToName, t.liveRows])));
    if (f.replace.foreignKeys.length) {
      L.push('', 'Foreign keys of other live tables that pointed at a replaced table:');
      for (const fk of f.replace.foreignKeys) L.push(`- ${code(fk.constraint)} on ${code(fk.table)} → ${code(fk.references)}: ${fk.action === 'reported' ? 'still points at the renamed old table; re-create it if the recovered table should be referenced' : fk.action}`);
    }
    L.push('');
  }
  if (f.promotedFrom) {
    const p = f.promotedFrom;
    L.push('## Side schema promoted', '');
    L.push(`Side schema ${code(p.schema)} (from ${code(p.source)}, verified ${p.verifiedAt}); its checksums were computed again before promoting:`, '');
    L.push(...table(['table', 'rows', 'checksum', 'as verified'], p.tables.map((t) => [t.name, t.rows, t.checksum, t.match ? 'equal' : '**CHANGED**'])), '');
  }
  if (f.merge?.committed) {
    L.push('## Promoted (merge)', '');
    L.push(...table(['table', 'recovered rows', 'inserted', 'already present (equal)', 'collisions'], f.merge.tables.map((t) => [t.name, t.recoveredRows, t.inserted, t.skipped, t.conflicts + t.otherUnique])));
    for (const t of f.merge.tables) for (const s of t.sequences) if (s.from !== s.to) L.push(`- ${code(s.sequence)} moved from ${s.from} to ${s.to}`);
    L.push('');
  }
  L.push(...collisions(f));
  if (steps.length) {
    L.push('## Step durations', '');
    L.push(...table(['step', 'started', 'took', 'result'], steps.map((s) => [s.name, s.startedAt, s.durationMs === null ? null : formatDuration(s.durationMs), s.ok === null ? 'running' : s.ok ? 'ok' : `failed: ${s.error ?? ''}`])), '');
  }

  L.push('## Next steps', '');
  const next = [...(f.nextSteps ?? [])];
  if (f.copyBack && !f.replace && !f.merge) {
    next.push(`Check the recovered rows in schema ${code(f.copyBack.schema)}, then merge them (${code(`undrop promote --schema ${f.copyBack.schema} --mode merge`)}) or move them in (${code('--mode replace')}); no new restore is needed.`);
  }
  if (f.copyBack && (f.merge?.committed || (!f.replace && !f.merge))) next.push(`Drop the side schema when you no longer need it: ${code(`DROP SCHEMA "${f.copyBack.schema.replace(/"/g, '""')}" CASCADE;`)}`);
  if (f.replace) {
    for (const t of f.replace.tables) if (t.liveRenamedToName) next.push(`Keep ${code(t.liveRenamedToName)} until its post-incident rows are reconciled; drop it only then.`);
    next.push('Check owners and grants of the promoted tables (carried from the old live tables where possible).');
  }
  if (f.materialized?.kept) next.push(`The temporary instance was kept: connect with ${code(f.materialized.kept.connect)}; remove it with ${code(f.materialized.kept.remove)}.`);
  next.push('Write down the root cause and add a restore drill for this source (undrop verify).');
  for (const n of next) L.push(`- ${n}`);
  L.push('');
  return L.join('\n');
}

/** "Collisions": recovered rows whose key a live row written since the incident holds (DROP + recreate restarts keys). */
function collisions(f: IncidentFacts): string[] {
  const L: string[] = [];
  const withConflicts = (f.merge?.tables ?? []).filter((t) => t.conflictsTable);
  if (!f.recreated?.length && !withConflicts.length) return L;
  L.push('## Collisions', '');
  for (const r of f.recreated ?? []) L.push(`- The incident dropped and recreated ${code(r.table)}: ${r.keyRestarted === false ? '' : 'its key sequence restarted with it, and '}${r.liveRows} row(s) were written to it since. They can reuse the keys of lost rows.`);
  if (f.merge) {
    const res = { 'kept-live': 'live rows kept; recovered rows left out', 'rekeyed-live': 'live rows given new keys; recovered rows in under their own', unresolved: '**unresolved: merge refused, nothing live changed**' } as const;
    if (withConflicts.length) {
      L.push(
        '',
        ...table(
          ['table', 'same key, other content', 'other unique value', 'resolution', 'pairs kept in', 'new live keys'],
          withConflicts.map((t) => [t.name, t.conflicts, t.otherUnique, t.resolution ? res[t.resolution] : null, t.conflictsTable, t.rekey?.newKeys ? `${t.rekey.newKeys.first} … ${t.rekey.newKeys.last}` : null]),
        ),
      );
      for (const t of withConflicts) for (const fk of t.rekey?.followed ?? []) L.push(`- ${fk.rows} row(s) of ${code(fk.table)} followed the new keys of ${code(t.name)} (${code(fk.constraint)}, ON UPDATE CASCADE).`);
    } else {
      L.push('', `Merge met no collisions (every recovered row whose key was taken is equal to the live row).`);
    }
    if (!f.merge.committed) L.push('', `Choices: ${code('--on-conflict rekey-live')} (post-incident rows get new keys, every recovered row goes in under its original key) or ${code('--on-conflict keep-live')} (the live rows win), with ${code('undrop promote --schema … --mode merge')}.`);
  }
  L.push('');
  return L;
}

/** The `recover` JSON document of the command-line contract. */
export function recoverJson(f: IncidentFacts, reportPath: string, durationMs: number): Omit<RecoverDocument, 'nextSteps' | 'promoted'> {
  const identity = new Map((f.identity ?? []).map((i) => [i.name, i]));
  const rp = f.materialized?.recoveryPoint;
  const verified = new Map((f.verify?.tables ?? []).map((v) => [v.name, v]));
  const replaced = new Set((f.replace?.tables ?? []).map((t) => t.name));
  return {
    source: f.materialized?.source ?? f.chosen?.name ?? null,
    recoveryPoint: rp ? { time: rp.time, lsn: rp.lsn, xid: rp.xid ?? null } : null,
    mode: f.mode ?? 'side-schema',
    schema: f.copyBack?.schema ?? null,
    tables: (f.copyBack?.tables ?? []).map((t) => ({
      name: t.name,
      recoveredAs: replaced.has(t.name) ? t.name : t.recoveredAsName,
      rows: t.rows,
      checksum: verified.get(t.name)?.copy.checksum ?? null,
      identity: identity.get(t.name)?.status ?? 'not-proven',
      identityReason: identity.get(t.name)?.reason ?? null,
    })),
    durationMs,
    report: reportPath,
  };
}
