// Cleanup registry: every temporary instance (and anything else that must
// not outlive undrop) registers here. Normal exit, errors and SIGINT/SIGTERM/
// SIGHUP all end in runAll(); a synchronous fallback runs on process 'exit'.
// Interrupt hooks run first on a signal (synchronously): the incident log
// writes its report ("interrupted at step X") and the run prints what a
// person must know (a paused replica) before anything is torn down.
// stoppable() groups the cleanups registered inside one piece of work, so
// that work alone can be stopped (and cleaned up) as a signal would.
import { AsyncLocalStorage } from 'node:async_hooks';
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
/** COMMITs already sent: a signal waits for their answer before it says what production holds. */
const inFlight = new Set<Promise<unknown>>();
/** At most this long (ms) a signal waits for COMMITs in flight. */
const IN_FLIGHT_WAIT_MS = 15_000;

/**
 * A COMMIT that was sent (a signal can no longer stop it): until it answers, a signal waits before its hooks
 * say what production holds, so that a publish that lands just after the signal is reported as committed.
 */
export function holdStopUntil<T>(p: Promise<T>): Promise<T> {
  inFlight.add(p);
  const drop = () => inFlight.delete(p);
  p.then(drop, drop);
  return p;
}

/** The cleanups registered inside one stoppable piece of work (ids into `items`). */
interface Scope {
  ids: Set<number>;
  stopped: boolean;
}
const scopes = new AsyncLocalStorage<Scope>();

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
  const scope = scopes.getStore();
  scope?.ids.add(id);
  // Work that was stopped may still start a program or make a folder before it notices: undone at once.
  if (scope?.stopped) void runOne(id);
  return () => {
    items.delete(id);
    scope?.ids.delete(id);
  };
}

/** One cleanup, once (whoever runs it first: a signal, the end of the run, a stopped scope). */
async function runOne(id: number): Promise<void> {
  const item = items.get(id);
  if (!item) return;
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

/** Run every registered cleanup, newest first (instances started last are stopped first). */
export function runAllCleanups(): Promise<void> {
  if (running) return running;
  running = (async () => {
    for (const id of [...items.keys()].reverse()) await runOne(id);
  })().finally(() => {
    running = undefined;
  });
  return running;
}

export interface Stoppable<T> {
  done: Promise<T>;
  /** Stop it as a signal would (its programs killed, its instances and folders removed); resolves once they are. */
  stop(): Promise<void>;
}

/**
 * Run `fn` as work that may be abandoned half way (recover's alongside WAL
 * scan when the run fails first): the cleanups it registers — programs,
 * temporary instances, staging folders — stay registered as usual and also
 * belong to it; stop() runs them now, newest first, and any registered later.
 */
export function stoppable<T>(fn: () => Promise<T>): Stoppable<T> {
  const scope: Scope = { ids: new Set(), stopped: false };
  const done = scopes.run(scope, fn);
  return {
    done,
    async stop() {
      scope.stopped = true;
      for (const id of [...scope.ids].reverse()) {
        scope.ids.delete(id);
        await runOne(id);
      }
    },
  };
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
    const stop = () => {
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
    if (!inFlight.size) return stop();
    // A COMMIT already sent answers first; setImmediate lets its caller's continuation record what it did.
    const settled = Promise.allSettled([...inFlight]).then(() => new Promise((r) => setImmediate(r)));
    void Promise.race([settled, new Promise((r) => setTimeout(r, IN_FLIGHT_WAIT_MS).unref())]).then(stop);
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
