// Typed errors with stable codes. Every failure a user can cause or meet
// ends up as an UndropError: a code scripts can match, a one-paragraph
// message, a HINT line that says what to do next, and the contract's exit code.

export const EXIT = {
  ok: 0,
  failed: 1, // the operation failed: no usable source, recovery failed
  usage: 2, // bad usage or bad input: config, flags, unknown table
  unhealthy: 3, // probe --strict or verify found an unhealthy source
  interrupted: 130,
  hangup: 129, // interrupted by SIGHUP: the terminal (an SSH session) went away
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export interface UndropErrorOptions {
  hint?: string;
  exitCode?: ExitCode;
  cause?: unknown;
  /** Extra lines (for example the tail of a server log) shown under the message. */
  details?: string[];
}

export class UndropError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly exitCode: ExitCode;
  readonly details: string[];
  /** Under --json: the command's document as far as it got (the error is added to it). */
  document?: Record<string, unknown>;

  constructor(code: string, message: string, options: UndropErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UndropError';
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? EXIT.failed;
    this.details = options.details ?? [];
  }
}

/** Bad input: config, flags, arguments (exit 2). */
export function usageError(code: string, message: string, hint?: string, details?: string[]): UndropError {
  return new UndropError(code, message, { hint, exitCode: EXIT.usage, details });
}

/** The operation failed (exit 1). */
export function failure(code: string, message: string, options: Omit<UndropErrorOptions, 'exitCode'> = {}): UndropError {
  return new UndropError(code, message, { ...options, exitCode: EXIT.failed });
}

export function isUndropError(e: unknown): e is UndropError {
  return e instanceof UndropError;
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
