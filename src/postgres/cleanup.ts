// Cleanup registry: every temporary instance (and anything else that must
// not outlive undrop) registers here. Normal exit, errors and SIGINT/SIGTERM/
// SIGHUP all end in runAll(); a synchronous fallback runs on process 'exit'.
// Interrupt hooks run first on a signal (synchronously): the incident log
// writes its report ("interrupted at step X") and the run prints what a
// person must know (a paused replica) before anything is torn down.
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
const hooks = new Map<number, (signal: NodeJS.Signals) => void>();
let interruptedBy: NodeJS.Signals | undefined;

/** The signal that stopped this run, once one arrived. The rest of the run's errors are then noise. */
export function interruptedSignal(): NodeJS.Signals | undefined {
  return interruptedBy;
}

/** Exit code of a run stopped by a signal: 130 (SIGINT, SIGTERM), 129 (SIGHUP: the terminal went away). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return signal === 'SIGHUP' ? EXIT.hangup : EXIT.interrupted;
}

/** Run `fn` (synchronous, must not throw) when a signal arrives, before cleanups. Newest first. */
export function onInterruptHook(fn: (signal: NodeJS.Signals) => void): () => void {
  installSignalHandlers();
  const id = nextId++;
  hooks.set(id, fn);
  return () => {
    hooks.delete(id);
  };
}

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
  const handler = (signal: NodeJS.Signals) => {
    if (interruptedBy) {
      // Second Ctrl-C: stop waiting for graceful shutdowns (the synchronous cleanups still run).
      runSyncAll();
      process.exit(signalExitCode(interruptedBy));
    }
    interruptedBy = signal;
    onInterrupt?.(signal);
    for (const [id, fn] of [...hooks.entries()].reverse()) {
      hooks.delete(id);
      try {
        fn(signal);
      } catch {
        /* a hook must never stop the cleanup */
      }
    }
    runAllCleanups().finally(() => process.exit(signalExitCode(signal)));
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
