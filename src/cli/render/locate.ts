// locate's human report: what was scanned, the destructive transactions
// newest first with their exact targets, and the next command.
import type { LocateResult, LocatedEvent } from '../../recovery/locate/index.js';
import { say } from '../output.js';

export function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/(\.\d{0,3})\d*Z$/, '$1 UTC').replace(/Z$/, ' UTC');
}

export function relList(e: LocatedEvent): string {
  const names = e.relations.map((r) => r.name ?? `base/${e.database.oid}/${r.relfilenode}`);
  return names.length > 4 ? `${names.slice(0, 4).join(', ')} (+${names.length - 4} more)` : names.join(', ');
}

export function kindLabel(e: LocatedEvent): string {
  if (e.kind === 'delete') return e.operation === 'update' ? 'mass UPDATE' : 'mass DELETE';
  if (e.kind === 'drop' && e.recreated.length) return 'DROP+CREATE';
  return e.kind === 'drop-database' ? 'DROP DATABASE' : e.kind.toUpperCase();
}

export function rowsText(e: LocatedEvent): string {
  if (e.rowsLost === null) return 'rows unknown';
  const n = e.rowsLost.toLocaleString('en-US');
  return e.rowsKind === 'estimate' ? `~${n} rows` : `${n} rows`;
}

/** The flags that aim recover at an event; its timeline too when the WAL holds several (latest may be another branch). */
function targetFlags(e: LocatedEvent, r: LocateResult): string {
  const point = e.kind === 'drop-database' ? `--target lsn:${e.firstLsn}` : `--target xid:${e.xid}`;
  return r.wal.timelines.length > 1 ? `${point} --target-timeline ${e.timeline}` : point;
}

export function printLocate(r: LocateResult): void {
  const w = r.wal;
  say(`Scanned ${w.segments} WAL segment(s) ${w.firstSegment ?? ''}${w.lastSegment && w.lastSegment !== w.firstSegment ? ` … ${w.lastSegment}` : ''} from ${w.source}`);
  say(`  ${w.records.toLocaleString('en-US')} records, ${w.commits.toLocaleString('en-US')} commits${w.firstCommitTime ? `, ${shortTime(w.firstCommitTime)} … ${shortTime(w.lastCommitTime ?? w.firstCommitTime)}` : ''} (pg_waldump ${w.pgWaldumpMajor}, ${(r.durationMs / 1000).toFixed(1)} s)`);
  say(`  names from: ${r.catalogs.length ? r.catalogs.join('; ') : 'no catalog (raw base/<db>/<relfilenode>)'}`);
  for (const warn of r.warnings) {
    say(`  warning [${warn.code}]: ${warn.message}`);
    if (warn.hint) say(`    ${warn.hint}`);
  }
  say('');
  if (r.events.length === 0) {
    say('No destructive transaction found in that range.');
  } else {
    say(`${r.events.length} destructive transaction(s), best candidate first (named ones newest first, then those no catalog could name):`);
    say('');
    const shown = new Set<string>();
    for (const e of r.events) {
      say(`  ${shortTime(e.commitTime)}  ${kindLabel(e)}  in ${e.database.name ?? `database OID ${e.database.oid}`}: ${relList(e) || '(whole database)'}`);
      say(`      ${rowsText(e)}; xid ${e.xid}; commit ${e.commitLsn}; first record ${e.firstLsn}`);
      if (e.recreated.length) say(`      recreated in the same transaction: ${e.recreated.map((x) => x.name).join(', ')} — their keys restarted, so rows written since can reuse lost rows' keys: a merge will meet collisions (recover --on-conflict)`);
      if (e.unnamedReason) say(`      unnamed: ${e.unnamedReason}`);
      say(`      target: ${targetFlags(e, r)} (exclusive)${e.catalog ? `; names from ${e.catalog}` : ''}`);
      for (const n of e.notes) {
        say(`      note: ${shown.has(n) ? '(as above)' : n}`);
        shown.add(n);
      }
    }
  }
  if (r.ignored.length) {
    say('');
    say(`${r.ignored.length} event(s) set aside by --ignore:`);
    for (const e of r.ignored) say(`  ${shortTime(e.commitTime)}  ${kindLabel(e)}  ${relList(e)}  xid ${e.xid} (matched ${e.ignoredBy})`);
  }
  if (r.undrop.length) {
    say('');
    say(`${r.undrop.length} drop(s) of undrop's own side schemas (housekeeping, never incidents):`);
    for (const e of r.undrop) say(`  ${shortTime(e.commitTime)}  ${kindLabel(e)}  ${relList(e)}  xid ${e.xid}`);
  }
  const newest = r.events[0];
  if (newest) {
    const tables = newest.relations.map((x) => x.name).filter(Boolean);
    say('');
    say(`Next: undrop recover${tables.length ? ` --tables ${tables.join(',')}` : ''} ${targetFlags(newest, r)}`);
  }
}
