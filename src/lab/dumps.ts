// Logical dumps in D/dumps with dates in their names: nightly-style custom
// format dumps and a plain SQL dump. Each dump's table checksums are taken in
// the very snapshot pg_dump uses (--snapshot), so they are exact.
import { existsSync } from 'node:fs';
import { mkdir, stat, utimes } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';
import type { PgBinaries } from '../postgres/binaries.js';
import type { TempInstance } from '../postgres/instance.js';
import { pgDumpDatabase } from '../postgres/lab-programs.js';
import { chownForServer } from '../postgres/os-user.js';
import { LAB_DATABASE, LOST_TABLES } from './dataset.js';
import { fileStamp, type LabLayout } from './layout.js';
import type { LabState } from './state.js';
import { tablesChecksums } from './truth.js';

export type DumpInfo = LabState['dumps'][number];

export function dumpFileName(at: Date, format: 'custom' | 'plain'): string {
  return `${LAB_DATABASE}_${fileStamp(at)}.${format === 'custom' ? 'dump' : 'sql'}`;
}

/**
 * Dump the shipping database in each format from one exported snapshot.
 * `labelledAt` (default now) goes into the names and the files' mtimes.
 */
export async function takeDumps(bin: PgBinaries, layout: LabLayout, primary: TempInstance, formats: ('custom' | 'plain')[], labelledAt?: Date): Promise<DumpInfo[]> {
  await mkdir(layout.dumps, { recursive: true });
  await chownForServer(layout.dumps, false);
  // Names carry the second: two dumps within one second (a lab with nothing to build between its nightly and
  // latest dumps) would share a file, the second overwriting the first. The second waits for the next second.
  while (!labelledAt && formats.some((f) => existsSync(join(layout.dumps, dumpFileName(new Date(), f))))) await delay(100);
  const client = await primary.connect(LAB_DATABASE);
  const out: DumpInfo[] = [];
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    const snapshot = (await client.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0]!.s;
    const tables = await tablesChecksums(client, LOST_TABLES, { inTransaction: true });
    const takenAt = new Date();
    const label = labelledAt ?? takenAt;
    // Both formats at once, from the same exported snapshot.
    const files = formats.map((format) => ({ format, file: join(layout.dumps, dumpFileName(label, format)) }));
    await Promise.all(files.map(({ format, file }) => pgDumpDatabase(bin, { host: primary.socketDir, port: primary.port, user: primary.superuser, database: LAB_DATABASE, file, format, snapshot })));
    for (const { format, file } of files) {
      if (labelledAt) await utimes(file, labelledAt, labelledAt);
      out.push({ path: file, format, takenAt: takenAt.toISOString(), labelledAt: label.toISOString(), bytes: (await stat(file)).size, valid: true, defect: null, tables });
    }
    await client.query('COMMIT');
  } finally {
    await client.end().catch(() => {});
  }
  return out;
}
