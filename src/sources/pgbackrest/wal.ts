// What locate reads from a pgBackRest stanza: its WAL through archive-get,
// and the archive's range from `pgbackrest info`.
import { usageError } from '../../errors.js';
import type { SourceConfigOf } from '../../inventory/schema.js';
import { stanzaInfo } from './info-recent.js';
import { shellQuote } from '../../util/redact.js';
import type { WalAccess } from '../types.js';
import { parsePgbackrestInfo } from './info.js';
import { Lsn } from '../../postgres/wal/lsn.js';

/** The restore_command that gets one WAL file from the repository (`pg1Path`: the data directory archive-get checks against). */
export function archiveGetCommand(config: SourceConfigOf<'pgbackrest'>, pg1Path?: string): string {
  return [
    'pgbackrest',
    ...(config.config ? [`--config=${shellQuote(config.config)}`] : []),
    `--stanza=${shellQuote(config.stanza)}`,
    ...(config.repo ? [`--repo=${config.repo}`] : []),
    ...(pg1Path ? [`--pg1-path=${shellQuote(pg1Path)}`] : []),
    'archive-get',
    '%f',
    '"%p"',
  ].join(' ');
}

export async function pgbackrestWal(config: SourceConfigOf<'pgbackrest'>): Promise<WalAccess> {
  return {
    label: `${config.name} (pgBackRest stanza ${config.stanza})`,
    via: 'pgbackrest',
    restoreCommand: archiveGetCommand(config),
    async range() {
      // the probe's answer when it is as fresh (recover asks both at once)
      const r = await stanzaInfo({ stanza: config.stanza, config: config.config, repo: config.repo }, 5_000);
      if (r.exitCode !== 0) {
        // 127 (runuser, sh) or -1 (no process at all): the program is not there.
        if (r.exitCode === 127 || r.exitCode === -1) {
          throw usageError('PGBACKREST_MISSING', 'pgbackrest is not installed here.', 'Install pgBackRest, or fetch the WAL into a folder and pass --wal-dir.');
        }
        return undefined;
      }
      try {
        const s = parsePgbackrestInfo(r.stdout, config.stanza);
        if (!s) return undefined;
        const newest = s.backups.filter((b) => !b.error && b.startLsn && b.archiveStart).sort((a, b) => Lsn.compare(a.startLsn!, b.startLsn!)).pop();
        return { first: s.archiveMin ?? undefined, last: s.archiveMax ?? undefined, ...(newest ? { newestBackup: { startLsn: newest.startLsn!, segment: newest.archiveStart! } } : {}) };
      } catch {
        return undefined;
      }
    },
  };
}
