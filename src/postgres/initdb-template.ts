// A throwaway cluster (a dump restored, a locked replica's tables pg_dumped
// into one) starts from a copy of an empty cluster that initdb made once per
// work directory, PostgreSQL installation and initdb options: initdb takes
// 1.3 s of the dump path here, copying its ~40 MB result 0.35 s. Every copy
// shares the template's system identifier; nothing a throwaway instance does
// depends on it (it never archives nor replicates). The lab's production
// still runs initdb of its own.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PgBinaries } from './binaries.js';
import { copyInto } from './data-copy.js';
import { chownForServer } from './os-user.js';
import { initdb, type InitdbOptions } from './programs.js';
import { templateArea, tempFolder } from './work-dir.js';

/** W/templates/pg<major>-<key>: the key covers the installation (folder, version) and the options. Pure. */
export function templateName(bin: Pick<PgBinaries, 'dir' | 'version' | 'major'>, o: Pick<InitdbOptions, 'superuser' | 'dataChecksums'>): string {
  const key = createHash('sha256')
    .update(JSON.stringify([bin.dir, bin.version, o.superuser ?? 'postgres', !!o.dataChecksums]))
    .digest('hex')
    .slice(0, 12);
  return `pg${bin.major}-${key}`;
}

const complete = (dataDir: string) => existsSync(join(dataDir, 'PG_VERSION')) && existsSync(join(dataDir, 'global', 'pg_control'));

/** The template's data directory, made by initdb on first use (into a fresh folder, renamed into place whole). */
async function template(bin: PgBinaries, o: Omit<InitdbOptions, 'dataDir'>, workDir: string): Promise<string> {
  const area = templateArea(workDir);
  const final = join(area, templateName(bin, o));
  if (complete(join(final, 'data'))) return join(final, 'data');
  await rm(final, { recursive: true, force: true }); // an incomplete one (a copy interrupted by hand)
  // removed on Ctrl-C too until it is renamed into place
  const { dir: fresh, release } = tempFolder(area, '.new-');
  try {
    await chownForServer(fresh, false);
    await initdb(bin, { ...o, dataDir: join(fresh, 'data'), noSync: true });
    // Another undrop may have made it meanwhile: theirs stays, ours goes.
    await rename(fresh, final).catch(() => rm(fresh, { recursive: true, force: true }));
  } catch (e) {
    await rm(fresh, { recursive: true, force: true });
    throw e;
  } finally {
    release();
  }
  return join(final, 'data');
}

/** initdb's result at `o.dataDir`, copied from the template (made first when missing); ownership and mode kept by cp -a. */
export async function initdbFromTemplate(bin: PgBinaries, o: InitdbOptions, workDir: string): Promise<void> {
  await copyInto(await template(bin, o, workDir), o.dataDir);
}
