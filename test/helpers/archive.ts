// Tests that write WAL on the lab's primary and then read it from the archive (locate, PITR) switch WAL
// and wait until that segment is archived; one helper for it, on the test's own connection.
import type pg from 'pg';

/** pg_switch_wal(), then wait (up to `timeoutMs`) until pg_stat_archiver has archived that segment. */
export async function archiveNow(c: pg.Client, timeoutMs = 60_000): Promise<string> {
  const seg = (await c.query<{ w: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS w')).rows[0]!.w;
  const until = Date.now() + timeoutMs;
  while (((await c.query<{ w: string | null }>('SELECT last_archived_wal AS w FROM pg_stat_archiver')).rows[0]!.w ?? '') < seg) {
    if (Date.now() > until) throw new Error(`WAL segment ${seg} was not archived within ${timeoutMs / 1000} s`);
    await new Promise((res) => setTimeout(res, 200));
  }
  return seg;
}
