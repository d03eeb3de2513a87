// The only place that writes to the terminal. With --json, stdout carries
// exactly one JSON document and all human text goes to stderr.
import type { ErrorDocument } from '../contract.js';
import { EXIT, UndropError, isUndropError } from '../errors.js';
import { redact, redactValue } from '../util/redact.js';

export interface OutputMode {
  json: boolean;
  debug: boolean;
  quiet?: boolean;
}

let mode: OutputMode = { json: false, debug: false };

export function setOutputMode(m: OutputMode): void {
  mode = m;
}

/** Result text: stdout normally, stderr under --json. */
export function say(text = ''): void {
  (mode.json ? process.stderr : process.stdout).write(redact(text) + '\n');
}

/** Progress and notes: always stderr. */
export function note(text: string): void {
  if (!mode.quiet) process.stderr.write(redact(text) + '\n');
}

export function printJson(doc: unknown): void {
  process.stdout.write(JSON.stringify(redactValue(doc), null, 2) + '\n');
}

/** The contract's error document (--json). */
export function errorDocument(err: UndropError): ErrorDocument {
  const error = { code: err.code, message: err.message, hint: err.hint ?? null, details: err.details, exitCode: err.exitCode };
  // A command that failed part way (promote) prints its document as far as it got, with the error added.
  return err.document ? { ...err.document, error } : { error };
}

/** Render any error once, the same way everywhere; returns the exit code. */
export function reportError(e: unknown): number {
  const err: UndropError = isUndropError(e)
    ? e
    : new UndropError('INTERNAL', `Internal error: ${e instanceof Error ? e.message : String(e)}`, {
        hint: 'This is a bug in undrop. Rerun with --debug for a stack trace and report it; nothing was changed after the failing step.',
        cause: e,
      });
  if (mode.json) printJson(errorDocument(err));
  const lines = [`undrop: error [${err.code}]: ${err.message}`, ...err.details];
  if (err.hint) lines.push(`HINT: ${err.hint}`);
  if (mode.debug) {
    lines.push('', String(err.stack ?? ''));
    if (err.cause instanceof Error && err.cause.stack) lines.push('Caused by:', err.cause.stack);
  }
  process.stderr.write(redact(lines.join('\n')) + '\n');
  return err.exitCode ?? EXIT.failed;
}
