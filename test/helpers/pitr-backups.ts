// Backups made from a fixture's own, for the cases a fixture does not build.
import { appendFile, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

/**
 * A copy of the tar backup in `tarBackupDir` (base.tar.gz, pg_wal.tar.gz,
 * backup_manifest) whose postgresql.auto.conf sets full_page_writes = off,
 * as backup b1 of `folder`. `scratch` is a work folder (removed after).
 */
export async function tarBackupWithFpwOff(tarBackupDir: string, folder: string, scratch: string): Promise<void> {
  await mkdir(join(folder, 'b1'), { recursive: true });
  await mkdir(scratch);
  await execa('tar', ['-xzf', join(tarBackupDir, 'base.tar.gz'), '-C', scratch]);
  await appendFile(join(scratch, 'postgresql.auto.conf'), '\nfull_page_writes = off\n');
  await execa('tar', ['-czf', join(folder, 'b1', 'base.tar.gz'), '-C', scratch, ...(await readdir(scratch))]);
  await execa('cp', [join(tarBackupDir, 'pg_wal.tar.gz'), join(tarBackupDir, 'backup_manifest'), join(folder, 'b1')]);
  await rm(scratch, { recursive: true, force: true });
}
