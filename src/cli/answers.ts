// Every answer and confirmation, with who gave it (a person at the terminal
// or --yes) and when, for the incident timeline. Answers given before the
// incident folder exists (the inventory wizard, the pause) wait in a buffer.

type Record_ = (type: string, data: Record<string, unknown>) => void;

let sink: Record_ | undefined;
const pending: { type: string; data: Record<string, unknown> }[] = [];

export type AnsweredBy = 'interactive' | '--yes' | 'flag';

/** Record one answer (question as shown, the answer, who answered). */
export function recordAnswer(question: string, answer: unknown, by: AnsweredBy): void {
  const data = { question, answer, by, at: new Date().toISOString() };
  if (sink) sink('answer', data);
  else pending.push({ type: 'answer', data });
}

/** Record something the flow did on its own before the folder existed (the guided pause). */
export function recordEvent(type: string, data: Record<string, unknown>): void {
  if (sink) sink(type, data);
  else pending.push({ type, data });
}

/** The incident log is open: flush what waited, then write through. Each run (recover, then promote) binds its own. */
export function bindAnswers(record: Record_): void {
  sink = record;
  for (const p of pending.splice(0)) record(p.type, p.data);
}
