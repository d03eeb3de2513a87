// The one place that runs PostgreSQL programs: arguments as arrays (never a
// shell string), a timeout, stderr captured and shown on failure, passwords
// redacted from anything printed or logged, and every command announced to
// listeners (the incident log records them). Children get a clean
// environment: PATH, locale and TZ only, plus what the call passes (the one
// connection's password); the parent's PGPASSWORD, PGHOST, PGSERVICE… never
// reach a temporary server, pgBackRest or a restore_command.
import { execa, type Options, type ResultPromise } from 'execa';
import { failure } from '../errors.js';
import { channel } from '../util/channel.js';
import { commandLine, redact } from '../util/redact.js';
import { registerCleanup } from './cleanup.js';
import { asServerUserPrefix } from './os-user.js';
import { descendants, signalAll } from './process-tree.js';

export interface RunOptions {
  timeoutMs?: number;
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Run as the server OS user when undrop runs as root (initdb, postgres, pg_ctl, …). */
  asServerUser?: boolean;
  input?: string;
  /** Feed this file to stdin (read by undrop, so the program's OS user needs no access to it). */
  inputFile?: string;
  /** Return a failed result instead of throwing. */
  allowFailure?: boolean;
}

export interface RunResult {
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface CommandEvent {
  command: string;
  exitCode?: number;
  durationMs?: number;
}

const commands = channel<CommandEvent>();

/** Subscribe to every program undrop runs (redacted command lines). */
export const onCommand = commands.on;
const announce = commands.emit;

function argv(program: string, args: readonly string[], opts: RunOptions): [string, string[]] {
  const prefix = opts.asServerUser ? asServerUserPrefix() : [];
  if (prefix.length === 0) return [program, [...args]];
  return [prefix[0]!, [...prefix.slice(1), program, ...args]];
}

const INHERITED = /^(PATH|LANG|LANGUAGE|LC_[A-Z]+|TZ)$/;

/** The whole environment of a child: inherited PATH/locale/TZ, C messages, then `extra`. */
export function childEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) if (INHERITED.test(k)) env[k] = v;
  env.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  // C locale messages: undrop parses server and tool output.
  return { ...env, LC_ALL: 'C.UTF-8', LC_MESSAGES: 'C', ...extra };
}

/**
 * A running child is stopped (and waited for) before the cleanups that were
 * registered before it, like the folder it writes into: a tar still
 * extracting would otherwise recreate what the cleanup just removed.
 */
interface Killable extends PromiseLike<unknown> {
  pid?: number;
  kill(signal?: NodeJS.Signals): boolean;
}

function tracked<T extends Killable>(child: T, label: string): T {
  if (child.pid === undefined) return child;
  const pid = child.pid;
  const unregister = registerCleanup({
    label: `program ${label}`,
    run: async () => {
      // what runs under it too (runuser → sh → barman get-wal), taken before they are orphaned
      const under = descendants(pid);
      signalAll(under, 'SIGTERM');
      child.kill('SIGTERM');
      const killer = setTimeout(() => {
        signalAll(under, 'SIGKILL');
        child.kill('SIGKILL');
      }, 5000);
      await Promise.resolve(child).catch(() => {});
      clearTimeout(killer);
    },
    runSync: () => {
      signalAll(descendants(pid), 'SIGKILL');
      child.kill('SIGKILL');
    },
  });
  void Promise.resolve(child).catch(() => {}).finally(unregister);
  return child;
}

/** execa for the plain tools undrop runs itself (cp, tar, chown, du, sh -c restore_command): the same clean environment. */
export function execClean<O extends Options = {}>(file: string, args: readonly string[], opts: O = {} as O): ResultPromise<O> {
  return tracked(execa(file, args, { ...opts, env: childEnv((opts.env ?? {}) as Record<string, string | undefined>), extendEnv: false } as O) as unknown as ResultPromise<O>, file);
}

function baseEnv(opts: RunOptions): Record<string, string | undefined> {
  return childEnv(opts.env);
}

const DEFAULT_TIMEOUT = 10 * 60_000;

export async function runProgram(program: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, fullArgs] = argv(program, args, opts);
  const shown = commandLine(program, args);
  const started = Date.now();
  announce({ command: shown });
  const result = await tracked(execa(file, fullArgs, {
    reject: false,
    timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT,
    env: baseEnv(opts),
    extendEnv: false,
    cwd: opts.cwd ?? '/',
    input: opts.input,
    inputFile: opts.inputFile,
    stdin: opts.input === undefined && opts.inputFile === undefined ? 'ignore' : undefined,
    stripFinalNewline: false,
  }), program);
  const durationMs = Date.now() - started;
  const exitCode = result.exitCode ?? -1;
  announce({ command: shown, exitCode, durationMs });
  const out: RunResult = {
    command: shown,
    exitCode,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
    durationMs,
  };
  if (result.timedOut) {
    throw failure('PG_PROGRAM_TIMEOUT', `${shown} did not finish within ${Math.round((opts.timeoutMs ?? DEFAULT_TIMEOUT) / 1000)} s and was stopped.`, {
      hint: 'The source may be very large or the machine overloaded; retry with a longer --program-timeout (for example --program-timeout 12h) or check the program by hand.',
      details: tail(out.stderr),
    });
  }
  if (result.failed && !opts.allowFailure) {
    if ((result as { code?: string }).code === 'ENOENT' || /ENOENT/.test(String(result.message))) {
      throw failure('PG_PROGRAM_MISSING', `Could not run ${program}: no such program.`, {
        hint: 'Install the PostgreSQL programs of the needed version, or point --pg-bin at their folder.',
      });
    }
    throw failure('PG_PROGRAM_FAILED', `${shown} failed (exit ${exitCode}).`, {
      hint: 'The lines below are the program\'s own error output.',
      details: tail(out.stderr || out.stdout),
    });
  }
  return out;
}

/** Start a program whose stdout is consumed as a stream (pg_waldump, pg_dump). */
export function spawnProgram(program: string, args: readonly string[], opts: RunOptions = {}): ResultPromise {
  const [file, fullArgs] = argv(program, args, opts);
  announce({ command: commandLine(program, args) });
  return tracked(execa(file, fullArgs, {
    reject: false,
    timeout: opts.timeoutMs,
    env: baseEnv(opts),
    extendEnv: false,
    cwd: opts.cwd ?? '/',
    stdin: 'ignore',
    buffer: { stdout: false, stderr: true },
    lines: false,
  }), program);
}

export function tail(text: string, lines = 12): string[] {
  return redact(text)
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.length > 0)
    .slice(-lines);
}
