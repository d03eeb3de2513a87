// The expert's scripted manual procedure, per source kind, as the shell
// script a DBA would type in an incident: copy or restore the backup, the
// same exclusive recovery target, start, wait, then
// `pg_dump -Fc -t … | pg_restore` into a scratch database on production.
// Each script prints "@@<phase> <epoch ms>" markers so the phases (copy,
// replay, rows) are timed from inside. The server it starts is left running
// for the floor measurement (floor.ts) and stopped by stopManual().
export type SourceKind = 'pitr' | 'pgbackrest' | 'snapshot' | 'dump' | 'delayed-replica';

export interface ManualContext {
  kind: SourceKind;
  /** Folder for this run's copy (created by the script, removed afterwards). */
  dir: string;
  port: number;
  bindir: string;
  database: string;
  tables: string[];
  xid: string;
  production: { socketDir: string; port: number; user: string; database: string };
  plainBackup?: string;
  walArchive?: string;
  pgbackrest?: { config: string; stanza: string };
  snapshot?: string;
  dump?: string;
  replica?: { socketDir: string; port: number; user: string };
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function startAndWait(c: ManualContext): string[] {
  const conf = [
    `port = ${c.port}`,
    "listen_addresses = ''",
    `unix_socket_directories = '${c.dir}'`,
    'archive_mode = off',
    "primary_conninfo = ''",
    'hot_standby = on',
  ];
  return [
    `printf '%s\\n' ${conf.map(q).join(' ')} >> "$D/data/postgresql.auto.conf"`,
    'chmod 700 "$D/data"',
    '"$B/pg_ctl" -D "$D/data" -l "$D/server.log" -w -t 3600 start > /dev/null',
    // The copy's superuser is production's (run as an ordinary OS user, psql's default user would be that user); give up after an hour.
    `n=0; until [ "$("$B/psql" -h "$D" -p ${c.port} -U ${q(c.production.user)} -d postgres -Atc 'select pg_is_in_recovery()')" = f ]; do n=$((n + 1)); [ $n -lt 72000 ] || { echo 'recovery did not end within an hour' >&2; exit 1; }; sleep 0.05; done`,
    'mark ready',
  ];
}

function dumpRestore(c: ManualContext, host: string, port: number, user?: string): string[] {
  const t = c.tables.map((x) => `-t ${q(x)}`).join(' ');
  const p = c.production;
  // A paused replica can hold the incident's replayed locks (the lock trap): pg_dump gives up after
  // a minute instead of blocking the bench forever.
  // pg_restore reports objects it cannot make (a default on a sequence not dumped) and goes on, as an expert lets it.
  return [
    `"$B/pg_dump" -Fc --lock-wait-timeout=60s -h ${q(host)} -p ${port}${user ? ` -U ${q(user)}` : ''} -d ${q(c.database)} ${t} | "$B/pg_restore" -h ${q(p.socketDir)} -p ${p.port} -U ${q(p.user)} -d ${q(p.database)} 2> "$D/restore.err" || true`,
    'mark rows',
  ];
}

/** The script for one manual run. Pure. */
export function manualScript(c: ManualContext): string {
  const head = ['set -e', `B=${q(c.bindir)}`, `D=${q(c.dir)}`, 'mark() { echo "@@$1 $(date +%s%3N)"; }', 'mark start', 'mkdir -p "$D/data"', 'chmod 700 "$D/data"'];
  const recovery = [
    `printf '%s\\n' ${[`recovery_target_xid = '${c.xid}'`, 'recovery_target_inclusive = off', "recovery_target_action = 'promote'"].map(q).join(' ')} >> "$D/data/postgresql.auto.conf"`,
    'touch "$D/data/recovery.signal"',
  ];
  switch (c.kind) {
    case 'pitr':
      return [
        ...head,
        `cp -a ${q(c.plainBackup!)}/. "$D/data/"`,
        'mark copied',
        `printf '%s\\n' ${q(`restore_command = 'cp ${c.walArchive}/%f %p'`)} >> "$D/data/postgresql.auto.conf"`,
        ...recovery,
        ...startAndWait(c),
        ...dumpRestore(c, c.dir, c.port, c.production.user),
      ].join('\n');
    case 'pgbackrest': {
      const b = c.pgbackrest!;
      return [
        ...head,
        `pgbackrest --config=${q(b.config)} --stanza=${q(b.stanza)} --pg1-path="$D/data" --type=xid --target=${q(c.xid)} --target-exclusive --target-action=promote --archive-mode=off --log-level-console=warn restore`,
        'mark copied',
        ...startAndWait(c),
        ...dumpRestore(c, c.dir, c.port, c.production.user),
      ].join('\n');
    }
    case 'snapshot':
      return [...head, `cp -a ${q(c.snapshot!)}/. "$D/data/"`, 'rm -f "$D/data/postmaster.pid"', 'mark copied', ...startAndWait(c), ...dumpRestore(c, c.dir, c.port, c.production.user)].join('\n');
    case 'dump': {
      const p = c.production;
      return [
        ...head,
        'mark copied',
        'mark ready',
        `"$B/pg_restore" -h ${q(p.socketDir)} -p ${p.port} -U ${q(p.user)} -d ${q(p.database)} ${c.tables.map((x) => `-t ${q(x.replace(/^public\./, ''))}`).join(' ')} ${q(c.dump!)} 2> "$D/restore.err" || true`,
        'mark rows',
      ].join('\n');
    }
    case 'delayed-replica': {
      const r = c.replica!;
      const psql = `"$B/psql" -h ${q(r.socketDir)} -p ${r.port} -U ${q(r.user)} -d postgres -Atc`;
      return [
        ...head,
        'mark copied',
        `${psql} 'select pg_wal_replay_pause()' > /dev/null`,
        // during recovery_min_apply_delay the state stays "pause requested", and nothing more is applied
        `n=0; until [ "$(${psql} 'select pg_get_wal_replay_pause_state()')" != 'not paused' ]; do n=$((n + 1)); [ $n -lt 1200 ] || { echo 'the replica did not pause within a minute' >&2; exit 1; }; sleep 0.05; done`,
        'mark ready',
        ...dumpRestore(c, r.socketDir, r.port, r.user),
      ].join('\n');
    }
  }
}

export interface ManualPhases {
  /** Copy / extract / restore of the backup files. */
  copyMs: number;
  /** Start and WAL replay (or crash recovery, or pausing) until the tables can be read. */
  replayMs: number;
  /** pg_dump | pg_restore (or pg_restore of the dump). */
  rowsMs: number;
  totalMs: number;
}

/** Phases from the script's "@@<phase> <ms>" markers. Pure. */
export function parsePhases(stdout: string): ManualPhases {
  const at: Record<string, number> = {};
  for (const m of stdout.matchAll(/^@@(\w+) (\d+)$/gm)) at[m[1]!] = Number(m[2]);
  for (const k of ['start', 'copied', 'ready', 'rows']) if (at[k] === undefined) throw new Error(`manual script: no @@${k} marker in its output`);
  return { copyMs: at.copied! - at.start!, replayMs: at.ready! - at.copied!, rowsMs: at.rows! - at.ready!, totalMs: at.rows! - at.start! };
}
