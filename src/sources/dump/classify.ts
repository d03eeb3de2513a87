// What a file in a dump folder really is, from its first and last bytes:
// a dump (custom, tar, directory, plain, gzip'd plain), an empty file, or the
// text of an error that a cron job redirected into the dump's name.
import type { Finding } from '../types.js';
import { error, info, warn } from '../common/findings.js';

export type DumpFormat = 'custom' | 'tar' | 'directory' | 'plain' | 'plain-gzip';

export type DumpSniff =
  | { kind: 'dump'; format: DumpFormat }
  | { kind: 'empty' }
  | { kind: 'error-text'; text: string }
  | { kind: 'not-a-dump'; text?: string };

export const PLAIN_TRAILERS = ['-- PostgreSQL database dump complete', '-- PostgreSQL database cluster dump complete'];

function looksLikeText(buf: Buffer): boolean {
  if (buf.length === 0) return false;
  let printable = 0;
  for (const b of buf) {
    if (b === 0) return false;
    if (b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127) || b >= 128) printable++;
  }
  return printable / buf.length > 0.95;
}

/** Classify by content; `isDirWithToc` for a directory-format dump folder. */
export function sniffDump(head: Buffer, size: number, isDirWithToc = false): DumpSniff {
  if (isDirWithToc) return { kind: 'dump', format: 'directory' };
  if (size === 0 || head.length === 0) return { kind: 'empty' };
  if (head.subarray(0, 5).toString('latin1') === 'PGDMP') return { kind: 'dump', format: 'custom' };
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return { kind: 'dump', format: 'tar' };
  if (head[0] === 0x1f && head[1] === 0x8b) return { kind: 'dump', format: 'plain-gzip' };
  const text = head.toString('utf8');
  if (/^--\s*\n-- PostgreSQL database (cluster )?dump\b/.test(text) || /^-- PostgreSQL database (cluster )?dump\b/m.test(text.slice(0, 512))) {
    return { kind: 'dump', format: 'plain' };
  }
  if (looksLikeText(head)) {
    const first = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0).slice(0, 3).join(' / ');
    // SQL without pg_dump's header is still SQL (hand-written or another tool): treat as plain, flagged.
    if (/^\s*(SET|CREATE|BEGIN|COPY|INSERT|\\connect)\b/i.test(text)) return { kind: 'dump', format: 'plain' };
    return { kind: 'error-text', text: first.length > 300 ? `${first.slice(0, 300)}…` : first };
  }
  return { kind: 'not-a-dump' };
}

export function sniffFindings(s: DumpSniff, size: number): Finding[] {
  switch (s.kind) {
    case 'empty':
      return [error('DUMP_EMPTY', 'The file is empty (0 bytes): the dump job produced nothing.', 'Check the dump job\'s log; its output never reached this file.')];
    case 'error-text':
      return [
        error(
          'DUMP_ERROR_TEXT',
          `The file (${size} bytes) holds an error message instead of a dump: "${s.text}".`,
          'The dump job failed and its error was written into the dump file. Fix the job (credentials, disk, permissions) and use an older dump meanwhile.',
        ),
      ];
    case 'not-a-dump':
      return [error('DUMP_NOT_A_DUMP', 'The file is not a PostgreSQL dump (no custom, tar or plain-SQL header).', 'Check what wrote this file; pg_restore -l and head -c 200 show what it holds.')];
    case 'dump':
      return [];
  }
}

/** A plain dump ends with pg_dump's completion comment; without it the dump stopped early. */
export function plainHasTrailer(tailText: string): boolean {
  return PLAIN_TRAILERS.some((t) => tailText.includes(t));
}

export function plainTrailerFindings(tailText: string): Finding[] {
  if (plainHasTrailer(tailText)) return [];
  return [
    error(
      'DUMP_INCOMPLETE',
      'The plain SQL dump has no "-- PostgreSQL database dump complete" trailer: pg_dump did not finish writing it.',
      'The file is truncated (disk full, killed job, broken pipe). Use an older dump, and check the job.',
    ),
  ];
}

export interface PlainHeader {
  serverVersion?: string;
  dumpVersion?: string;
  startedOn?: string;
}

export function parsePlainHeader(text: string): PlainHeader {
  const out: PlainHeader = {};
  const s = /^-- Dumped from database version (.+)$/m.exec(text);
  if (s) out.serverVersion = s[1]!.trim();
  const d = /^-- Dumped by pg_dump(?:all)? version (.+)$/m.exec(text);
  if (d) out.dumpVersion = d[1]!.trim();
  const st = /^-- Started on (.+)$/m.exec(text);
  if (st) out.startedOn = st[1]!.trim();
  return out;
}

/**
 * The default (cheap) truncation check: a dump much smaller than the dumps
 * before it is suspicious, because `pg_restore -l` lists a truncated custom
 * dump as if it were whole.
 */
export function sizeDropFindings(size: number, previousSizes: readonly number[], ratio = 0.75): Finding[] {
  if (previousSizes.length === 0) return [];
  const sorted = [...previousSizes].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  if (median <= 0 || size >= median * ratio) return [];
  const pct = Math.round((size / median) * 100);
  return [
    warn(
      'DUMP_SIZE_DROP',
      `The file is ${pct}% of the size of the dumps before it (${size} vs about ${median} bytes): it may be truncated.`,
      'Run `undrop probe --deep`, which reads the whole archive (pg_restore -f /dev/null), before relying on it.',
    ),
  ];
}

export function deepReadFindings(exitCode: number, stderr: string): Finding[] {
  if (exitCode === 0) return [info('DUMP_READ_OK', 'Read completely (pg_restore -f /dev/null).')];
  const line = stderr.split('\n').map((l) => l.trim()).find((l) => /error/i.test(l)) ?? stderr.trim().split('\n')[0] ?? '';
  if (/end of file|could not read|unexpected end|too short/i.test(stderr)) {
    return [
      error(
        'DUMP_TRUNCATED',
        `The archive is truncated: reading all of it fails (${line}). Its table of contents looks normal, but the data stops early.`,
        'A restore from it would stop halfway and leave tables without rows, indexes or constraints. Use an older dump.',
      ),
    ];
  }
  return [error('DUMP_CORRUPT', `Reading the whole archive fails: ${line}`, 'Use an older dump; keep this one for analysis.')];
}
