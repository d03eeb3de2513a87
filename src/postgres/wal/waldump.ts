// Running pg_waldump: the only code that builds a pg_waldump command line
// (waldumpArgs). Three ways to read it: the whole output (runWaldump, small
// stretches), line by line (streamWaldump), or blocks of raw lines over a
// named pipe (streamWaldumpLines, locate's fast path over gigabytes).
import { execFile } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { failure } from '../../errors.js';
import type { PgBinaries } from '../binaries.js';
import { type RunResult, runProgram, spawnProgram, tail } from '../run.js';
// ---------------------------------------------------------------------------
// Running pg_waldump

export interface WaldumpOptions {
  /** Folder with the segment files (-p). */
  dir: string;
  startSegment?: string;
  endSegment?: string;
  /** -s / -e, PostgreSQL spelling. */
  start?: string;
  end?: string;
  timeline?: number;
  /** Only these resource managers (-r, repeated; PostgreSQL 15+ takes several). */
  rmgrs?: string[];
  xid?: number;
  /** Print nothing (-q): only read and validate. */
  quiet?: boolean;
  stats?: boolean;
}

export function waldumpArgs(o: WaldumpOptions): string[] {
  const args = ['-p', o.dir];
  if (o.timeline !== undefined) args.push('-t', String(o.timeline));
  if (o.start) args.push('-s', o.start);
  if (o.end) args.push('-e', o.end);
  for (const r of o.rmgrs ?? []) args.push('-r', r);
  if (o.xid !== undefined) args.push('-x', String(o.xid));
  if (o.quiet) args.push('-q');
  if (o.stats) args.push('-z');
  if (o.startSegment) {
    args.push(o.startSegment);
    if (o.endSegment) args.push(o.endSegment);
  }
  return args;
}

export interface RunWaldumpOptions extends WaldumpOptions {
  /** Run as the server OS user (files only it can read, such as a live pg_wal). */
  asServerUser?: boolean;
  timeoutMs?: number;
}

/**
 * pg_waldump over a short stretch, the whole output in memory. Never throws
 * on pg_waldump's exit status: it exits 1 at the normal end of WAL, so the
 * caller judges the output (isEndOfWal).
 */
export function runWaldump(bin: PgBinaries, o: RunWaldumpOptions): Promise<RunResult> {
  return runProgram(bin.path('pg_waldump'), waldumpArgs(o), { env: { TZ: 'UTC' }, asServerUser: o.asServerUser, allowFailure: true, timeoutMs: o.timeoutMs ?? 60_000 });
}

export interface WaldumpOutcome {
  exitCode: number;
  /** pg_waldump's error output (last lines). */
  stderr: string;
  /** pg_waldump stopped at the normal end of WAL ("invalid record length … got 0", "could not find file" past the last segment). */
  endOfWal: boolean;
  /** Stopped early because the consumer asked to. */
  stoppedEarly: boolean;
  /** Lines handed out (streamWaldump only: the block reader does not count them). */
  lines?: number;
}

/**
 * Run pg_waldump and hand every output line to `onLine` as it arrives.
 * Returning false from onLine stops pg_waldump. Memory stays flat: only the
 * current chunk and one partial line are held.
 */
export async function streamWaldump(bin: PgBinaries, o: WaldumpOptions, onLine: (line: string) => boolean | void): Promise<WaldumpOutcome> {
  const child = spawnProgram(bin.path('pg_waldump'), waldumpArgs(o), { env: { TZ: 'UTC' } });
  let rest = '';
  let lines = 0;
  let stopped = false;
  const stdout = child.stdout!;
  stdout.setEncoding('latin1');
  try {
    for await (const chunk of stdout as AsyncIterable<string>) {
      if (stopped) continue;
      let start = 0;
      let nl = chunk.indexOf('\n');
      if (nl >= 0 && rest.length > 0) {
        const line = rest + chunk.slice(0, nl);
        rest = '';
        lines++;
        if (onLine(line) === false) {
          stopped = true;
        }
        start = nl + 1;
        nl = chunk.indexOf('\n', start);
      }
      while (!stopped && nl >= 0) {
        lines++;
        if (onLine(chunk.slice(start, nl)) === false) stopped = true;
        start = nl + 1;
        nl = chunk.indexOf('\n', start);
      }
      if (stopped) {
        child.kill('SIGTERM');
        continue;
      }
      rest = start === 0 ? rest + chunk : chunk.slice(start);
    }
    if (!stopped && rest.length > 0) {
      lines++;
      onLine(rest);
    }
  } finally {
    if (stopped) child.kill('SIGTERM');
  }
  const r = await child;
  const stderr = String(r.stderr ?? '');
  const exitCode = r.exitCode ?? (stopped ? 0 : -1);
  if ((r as { code?: string }).code === 'ENOENT') {
    throw failure('PG_PROGRAM_MISSING', `Could not run pg_waldump (PostgreSQL ${bin.major}).`, { hint: 'Install the PostgreSQL programs of that version, or point --pg-bin at their folder.' });
  }
  return { exitCode, stderr, endOfWal: isEndOfWal(stderr), stoppedEarly: stopped, lines };
}

/**
 * pg_waldump writes through stdio, which flushes a pipe every 4 KB: ~370,000
 * small writes per GB of output, each waking the reader. That, not parsing,
 * made locate twice as slow as `pg_waldump > /dev/null`. coreutils' stdbuf
 * gives it a bigger buffer (pg_waldump is a plain dynamically linked stdio
 * program); where stdbuf is missing, pg_waldump runs as is. 64 KB, the
 * pipe's capacity: measured against 16 KB, 32 KB, 128 KB and 1 MB, larger
 * buffers make pg_waldump wait in write() while undrop parses, smaller ones
 * cost more wake-ups. UNDROP_WALDUMP_BUFFER overrides it (stdbuf's syntax).
 */
export const WALDUMP_OUTPUT_BUFFER = '64K';

const execFileAsync = promisify(execFile);

let stdbufPath: Promise<string | undefined> | undefined;

/** coreutils' stdbuf on PATH (Linux), cached; undefined elsewhere or when UNDROP_NO_STDBUF is set. */
export function findStdbuf(): Promise<string | undefined> {
  if (process.env.UNDROP_NO_STDBUF) return Promise.resolve(undefined);
  stdbufPath ??= (async () => {
    if (process.platform !== 'linux') return undefined;
    for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
      if (!dir) continue;
      const p = join(dir, 'stdbuf');
      try {
        await access(p, constants.X_OK);
        return p;
      } catch {
        /* next */
      }
    }
    return undefined;
  })();
  return stdbufPath;
}

/** The program and arguments that run pg_waldump with a large output buffer when possible. */
export async function waldumpCommand(bin: PgBinaries, o: WaldumpOptions, buffered = true): Promise<[string, string[]]> {
  const program = bin.path('pg_waldump');
  const stdbuf = buffered ? await findStdbuf() : undefined;
  if (!stdbuf) return [program, waldumpArgs(o)];
  // stdbuf reports a missing program as exit 127 on stderr; say it the usual way instead.
  try {
    await access(program, constants.X_OK);
  } catch {
    throw failure('PG_PROGRAM_MISSING', `Could not run pg_waldump (PostgreSQL ${bin.major}).`, { hint: 'Install the PostgreSQL programs of that version, or point --pg-bin at their folder.' });
  }
  return [stdbuf, ['-o', process.env.UNDROP_WALDUMP_BUFFER || WALDUMP_OUTPUT_BUFFER, program, ...waldumpArgs(o)]];
}

/**
 * Cuts a byte stream into blocks of whole lines without copying them: each
 * chunk goes out as one block (from its first line start to its last
 * newline); only a line cut between two chunks is copied.
 */
export class LineBlocks {
  private rest: Buffer | undefined;

  constructor(private readonly onLines: (buf: Buffer, start: number, end: number) => boolean | void) {}

  /** One chunk; false when the consumer asked to stop. */
  push(raw: Buffer): boolean {
    let start = 0;
    if (this.rest) {
      const nl0 = raw.indexOf(10);
      if (nl0 < 0) {
        this.rest = Buffer.concat([this.rest, raw]);
        return true;
      }
      const line = Buffer.concat([this.rest, raw.subarray(0, nl0 + 1)]);
      this.rest = undefined;
      if (this.onLines(line, 0, line.length) === false) return false;
      start = nl0 + 1;
    }
    const last = raw.lastIndexOf(10);
    if (last >= start) {
      if (this.onLines(raw, start, last + 1) === false) return false;
      start = last + 1;
    }
    if (start < raw.length) this.rest = Buffer.from(raw.subarray(start));
    return true;
  }

  /** End of stream: a last line without a newline. */
  end(): void {
    const r = this.rest;
    this.rest = undefined;
    if (r && r.length > 0) this.onLines(r, 0, r.length);
  }
}

/**
 * Run pg_waldump and hand its output out in blocks of whole lines, as raw
 * bytes: onLines(buf, start, end) where buf[start, end) ends with a newline
 * (the last block of the output may not). Nothing becomes a string unless
 * the consumer wants it; only the current chunk and one partial line are
 * held. Returning false stops pg_waldump. This is the fast path locate uses
 * over gigabytes of WAL.
 */
export interface StreamLinesOptions {
  /**
   * How the output reaches undrop. 'fifo' (default where mkfifo exists): a
   * named pipe read with one reused buffer, no allocation per read; 'pipe':
   * the child's stdout (a socket pair under Node), the fallback.
   */
  transport?: 'fifo' | 'pipe';
}

export async function streamWaldumpLines(bin: PgBinaries, o: WaldumpOptions, onLines: (buf: Buffer, start: number, end: number) => boolean | void, options: StreamLinesOptions = {}): Promise<WaldumpOutcome> {
  const [file, args] = await waldumpCommand(bin, o);
  const fifo = options.transport === 'pipe' || process.env.UNDROP_WALDUMP_PIPE ? undefined : await openFifo();
  let stopped = false;
  let thrown: unknown;
  const blocks = new LineBlocks(onLines);
  let stop = () => {
    stopped = true;
  };
  const feed = (raw: Buffer) => {
    if (stopped) return;
    try {
      if (!blocks.push(raw)) stop();
    } catch (e) {
      thrown = e;
      stop();
    }
  };
  let child: ReturnType<typeof spawnProgram>;
  if (fifo) {
    // sh opens the named pipe as pg_waldump's stdout and execs it (same pid: stopping it stops pg_waldump).
    try {
      child = spawnProgram('/bin/sh', ['-c', 'exec "$@" > "$0"', fifo.path, file, ...args], { env: { TZ: 'UTC' } });
    } catch (e) {
      closeSync(fifo.readFd);
      fifo.cleanup();
      throw e;
    }
    // Until pg_waldump exits, undrop holds a writing end too: the reader cannot see an end of file before pg_waldump opened its own.
    const exited = child.then(
      () => undefined,
      () => undefined,
    );
    const buffer = Buffer.allocUnsafe(256 * 1024);
    // onread: Node reads into this one buffer (typed since @types/node 22, there since Node 12.2).
    const socketOptions = {
      fd: fifo.readFd,
      readable: true,
      writable: false,
      onread: {
        buffer,
        callback: (n: number) => {
          feed(buffer.subarray(0, n));
          return true;
        },
      },
    };
    const socket = new Socket(socketOptions as ConstructorParameters<typeof Socket>[0]);
    stop = () => {
      stopped = true;
      child.kill('SIGTERM');
    };
    try {
      await new Promise<void>((resolve) => {
        socket.once('end', resolve);
        socket.once('close', resolve);
        socket.once('error', resolve);
        void exited.then(() => fifo.closeWriter());
      });
    } finally {
      socket.destroy(); // closes the reading end
      await exited;
      fifo.cleanup();
    }
  } else {
    child = spawnProgram(file, args, { env: { TZ: 'UTC' } });
    stop = () => {
      stopped = true;
      child.kill('SIGTERM');
    };
    // 'data' events, not an async iterator: each chunk is handled synchronously as it is read, so
    // nothing queues in the stream, and pg_waldump is slowed only if the parsing itself is slower.
    const stdout = child.stdout!;
    await new Promise<void>((resolve) => {
      stdout.on('data', feed);
      stdout.once('end', resolve);
      stdout.once('close', resolve);
      stdout.once('error', resolve);
    });
  }
  if (!stopped) blocks.end();
  const r = await child;
  const stderr = String(r.stderr ?? '');
  if ((r as { code?: string }).code === 'ENOENT') {
    throw failure('PG_PROGRAM_MISSING', `Could not run pg_waldump (PostgreSQL ${bin.major}).`, { hint: 'Install the PostgreSQL programs of that version, or point --pg-bin at their folder.' });
  }
  if (thrown !== undefined) throw thrown;
  return { exitCode: r.exitCode ?? (stopped ? 0 : -1), stderr, endOfWal: isEndOfWal(stderr), stoppedEarly: stopped };
}

interface Fifo {
  path: string;
  readFd: number;
  closeWriter(): void;
  cleanup(): void;
}

/** A private named pipe (mode 600, in its own temp folder), open for reading (non-blocking) and writing; undefined when mkfifo is not there. */
async function openFifo(): Promise<Fifo | undefined> {
  if (process.platform === 'win32') return undefined;
  let dir: string | undefined;
  try {
    dir = mkdtempSync(join(tmpdir(), 'undrop-wal-'));
    const path = join(dir, 'out');
    await execFileAsync('mkfifo', ['-m', '600', path]);
    const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    let writeFd: number | undefined = openSync(path, constants.O_WRONLY);
    const d = dir;
    const closeWriter = () => {
      if (writeFd !== undefined) closeSync(writeFd);
      writeFd = undefined;
    };
    return {
      path,
      readFd,
      closeWriter,
      cleanup() {
        closeWriter();
        rmSync(d, { recursive: true, force: true });
      },
    };
  } catch {
    if (dir) rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
}

/** pg_waldump's way of saying "no more WAL here" rather than "this WAL is broken". */
export function isEndOfWal(stderr: string): boolean {
  return /invalid record length at [0-9A-F/]+: (wanted \d+, got 0|expected at least \d+, got 0)|could not find file|record with incorrect prev-link [0-9A-F/]+ at|invalid magic number 0000|contrecord is requested|missing contrecord|invalid resource manager ID 0 at/.test(stderr);
}

/** The error pg_waldump printed, as lines for UndropError details. */
export function waldumpErrorLines(stderr: string): string[] {
  return tail(stderr, 6);
}
