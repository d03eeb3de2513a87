// One run per work directory: two runs would share instance folders, ports
// they think are free and an incident folder, and one's cleanup could remove
// the other's instance. W/undrop.lock names the holder (pid, command, start);
// a lock whose process is gone is stale and taken over.
import { closeSync, constants, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { failure } from '../errors.js';
import { redact } from '../util/redact.js';
import { registerCleanup } from './cleanup.js';
import { alive } from './process-tree.js';
import { prepareWorkDir } from './work-dir.js';

interface Holder {
  pid: number;
  command: string;
  startedAt: string;
}

function readHolder(path: string): Holder | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Holder;
  } catch {
    return undefined; // being written, or garbage: treated as stale below only if unreadable twice
  }
}

/** Take the work directory's lock for this process; returns the release function (also run at exit and on a signal). */
export function lockWorkDir(workDir: string, command: string): () => void {
  const dir = prepareWorkDir(workDir);
  const path = join(dir, 'undrop.lock');
  const me: Holder = { pid: process.pid, command: redact(command), startedAt: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 2) throw e;
      const other = readHolder(path);
      if (other && other.pid !== process.pid && alive(other.pid)) {
        throw failure('WORK_DIR_BUSY', `Another undrop run is using the work directory ${dir}: pid ${other.pid}, started ${other.startedAt}: ${other.command}`, {
          hint: `Wait for it to finish (or stop it: kill -INT ${other.pid}), or give this run its own folder with --work-dir. Two runs on one work directory could remove each other's temporary instances.`,
        });
      }
      if (!other && attempt === 0) continue; // the holder may be writing it right now: look again
      rmSync(path, { force: true }); // stale: its process is gone
      continue;
    }
    writeSync(fd, JSON.stringify(me));
    closeSync(fd);
    const release = () => {
      // Only our own lock: a stale-lock takeover by another run must not be undone.
      if (readHolder(path)?.pid === process.pid) rmSync(path, { force: true });
    };
    const unregister = registerCleanup({ label: `work directory lock ${path}`, run: async () => release(), runSync: release });
    return () => {
      release();
      unregister();
    };
  }
}
