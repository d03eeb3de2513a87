// A process-wide event channel: modules announce what they do (programs run,
// phases timed) and whoever listens (the incident log) subscribes, so nothing
// is passed down through the callers.

export interface Channel<E> {
  /** Subscribe; the returned function unsubscribes. */
  on(listener: (e: E) => void): () => void;
  emit(e: E): void;
}

export function channel<E>(): Channel<E> {
  const listeners = new Set<(e: E) => void>();
  return {
    on(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    emit(e) {
      for (const l of listeners) l(e);
    },
  };
}
