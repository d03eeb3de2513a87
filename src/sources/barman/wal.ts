// What locate reads from a Barman server: its WAL through `barman get-wal`,
// and the range it holds from the wals folder.
import type { SourceConfigOf } from '../../inventory/schema.js';
import { barmanJson } from '../../postgres/barman-programs.js';
import { isRoot } from '../../postgres/os-user.js';
import { postgresSettings } from '../../postgres/settings.js';
import { shellQuote } from '../../util/redact.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BaseBackupRef, WalAccess } from '../types.js';
import { parseShowServer } from './catalog.js';
import { DEFAULT_BARMAN_USER, barmanBackups, barmanOptions } from './probe.js';
import { listBarmanWals } from './wal-files.js';
import { segmentName } from '../../postgres/wal/segments.js';

/**
 * The restore_command that gets one WAL file from Barman. It runs as the
 * server OS user: when Barman runs as another user, through sudo, as
 * Barman's own recovery.conf does (a sudoers rule is needed then).
 */
export function getWalCommand(config: SourceConfigOf<'barman'>): string {
  const user = config.barman_user ?? DEFAULT_BARMAN_USER;
  const sudo = !isRoot() || user === postgresSettings().serverOsUser ? [] : ['sudo', '-n', '-u', shellQuote(user)];
  const get = [...sudo, 'barman', ...(config.config ? ['-c', shellQuote(config.config)] : []), 'get-wal', shellQuote(config.server), '%f'].join(' ');
  // Never leave a half-written or empty file under the segment's name.
  return `${get} > "%p.part" && mv "%p.part" "%p" || { rm -f "%p.part"; false; }`;
}

export async function barmanWal(config: SourceConfigOf<'barman'>): Promise<WalAccess> {
  return {
    label: `${config.name} (Barman server ${config.server})`,
    via: 'barman',
    restoreCommand: getWalCommand(config),
    async range() {
      const s = await barmanJson(barmanOptions(config, 60_000), 'show-server');
      if (s.exitCode !== 0) return undefined;
      try {
        const dir = parseShowServer(s.stdout, config.server).walsDirectory;
        if (!dir) return undefined;
        const listing = await listBarmanWals(dir);
        const all = [...listing.segments].flatMap(([tli, set]) => [...set].map((segno) => segmentName(tli, segno))).sort();
        return all.length ? { first: all[0], last: all[all.length - 1] } : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * Barman's DONE backups as plain data directories (BARMAN_HOME/SERVER/base/ID/data),
 * newest start first: locate copies one (never starts it in place) to name
 * the dropped files. Compressed backups (no data folder) are left out.
 */
export async function barmanBaseBackups(config: SourceConfigOf<'barman'>): Promise<BaseBackupRef[]> {
  const opts = barmanOptions(config, 60_000);
  const s = await barmanJson(opts, 'show-server');
  let baseDir: string | null = null;
  try {
    baseDir = s.exitCode === 0 ? parseShowServer(s.stdout, config.server).basebackupsDirectory : null;
  } catch {
    baseDir = null;
  }
  if (!baseDir) return [];
  const { backups } = await barmanBackups(opts);
  return backups
    .filter((b) => b.status === 'DONE' && b.beginLsn && existsSync(join(baseDir, b.id, 'data', 'PG_VERSION')))
    .sort((a, b) => (b.beginTime ?? '').localeCompare(a.beginTime ?? ''))
    .map((b) => ({
      path: join(baseDir, b.id, 'data'),
      format: 'plain' as const,
      startLsn: b.beginLsn!,
      startTime: b.beginTime,
      timeline: b.timeline,
      async layout() {
        return { dataDir: join(baseDir, b.id, 'data'), copy: true, release: async () => {} };
      },
    }));
}
