// Answers that cannot change while undrop runs (a read-only archive's member,
// a user's ids), computed once per process instead of once per caller.

/** `fn` memoized by `key`; a failed answer is forgotten, so the next call tries again. */
export function memoizeAsync<A extends unknown[], T>(fn: (...args: A) => Promise<T>, key: (...args: A) => string): (...args: A) => Promise<T> {
  const answers = new Map<string, Promise<T>>();
  return (...args: A) => {
    const k = key(...args);
    let hit = answers.get(k);
    if (!hit) {
      hit = fn(...args);
      answers.set(k, hit);
      hit.catch(() => answers.delete(k));
    }
    return hit;
  };
}
