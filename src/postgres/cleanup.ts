// Cleanup registry: every temporary instance (and anything else that must
// not outlive undrop) registers here. Normal exit, errors and SIGINT/SIGTERM
// all end in runAll(); a synchronous fallback runs on process 'exit'.
import { EXIT } from '../errors.js';

export interface CleanupItem {
  label: string;
  /** Graceful: stop servers, remove directories. */
  run(): Promise<void>;
  /** Last resort from the 'exit' handler: must be synchronous. */
  runSync(): void;
}

const items = new Map<number, CleanupItem>();
let nextId = 1;
let installed = false;
let running: Promise<void> | undefined;
let onInterrupt: ((signal: string) => void) | undefined;

export function registerCleanup(item: CleanupItem): () => void {
  installSignalHandlers();
  const id = nextId++;
  items.set(id, item);
  return () => {
    items.delete(id);
  };
}

/** Run every registered cleanup, newest first (instances started last are stopped first). */
export function runAllCleanups(): Promise<void> {
  if (running) return running;
  running = (async () => {
    const list = [...items.entries()].reverse();
    for (const [id, item] of list) {
      items.delete(id);
      try {
        await item.run();
      } catch {
        try {
          item.runSync();
        } catch {
          /* best effort */
        }
      }
    }
  })().finally(() => {
    running = undefined;
  });
  return running;
}

/** The CLI sets this to print a line before cleanup starts. */
export function setInterruptNotice(fn: (signal: string) => void): void {
  onInterrupt = fn;
}

function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  let interrupted = false;
  const handler = (signal: NodeJS.Signals) => {
    if (interrupted) {
      // Second Ctrl-C: stop waiting for graceful shutdowns.
      runSyncAll();
      process.exit(EXIT.interrupted);
    }
    interrupted = true;
    onInterrupt?.(signal);
    runAllCleanups().finally(() => process.exit(signal === 'SIGINT' ? EXIT.interrupted : 128 + 15));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  process.on('SIGHUP', handler);
  process.on('exit', runSyncAll);
}

function runSyncAll(): void {
  for (const [id, item] of [...items.entries()].reverse()) {
    items.delete(id);
    try {
      item.runSync();
    } catch {
      /* best effort */
    }
  }
}
