// The work directory's lock for a command that writes there (recover, promote,
// verify, the guided flow); apart from context.ts, which every command loads.
import { lockWorkDir } from '../postgres/work-lock.js';

/** Hold the work directory for this run (refused while another run holds it); returns the release function. */
export function lockRun(workDir: string): () => void {
  return lockWorkDir(workDir, ['undrop', ...process.argv.slice(2)].join(' '));
}
