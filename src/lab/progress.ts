// Progress events from the lab to whoever shows them (the CLI renders them
// with spinners on stderr; tests ignore them). src/lab never writes to the terminal.

export type ProgressEvent =
  | { type: 'start'; id: string; title: string }
  | { type: 'done'; id: string; title: string; detail: string; durationMs: number }
  | { type: 'fail'; id: string; title: string; error: string }
  | { type: 'note'; text: string };

export type Progress = (e: ProgressEvent) => void;

export const silent: Progress = () => {};

/** Run one titled step and report it. */
export async function step<T>(progress: Progress, id: string, title: string, run: () => Promise<T>, detail?: (r: T) => string): Promise<T> {
  const started = Date.now();
  progress({ type: 'start', id, title });
  try {
    const r = await run();
    progress({ type: 'done', id, title, detail: detail ? detail(r) : '', durationMs: Date.now() - started });
    return r;
  } catch (e) {
    progress({ type: 'fail', id, title, error: e instanceof Error ? e.message : String(e) });
    throw e;
  }
}
