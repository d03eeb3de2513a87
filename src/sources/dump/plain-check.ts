// A plain SQL dump is a psql script, and psql meta-commands act outside the
// database: `\! cmd` runs a shell command, `\o file` writes a file, `\copy`
// reads one. pg_dump writes only \connect, the \. ending COPY data and
// \restrict/\unrestrict; a dump with any other meta-command is refused
// before psql sees it. The scan follows psql's lexing closely enough to skip
// backslashes inside quoted strings, dollar quotes, comments and COPY data.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

const ALLOWED = new Set(['connect', 'c', 'restrict', 'unrestrict']);

export interface MetaCommand {
  line: number;
  command: string;
}

type State = { kind: 'normal' } | { kind: 'quote'; escapes: boolean } | { kind: 'ident' } | { kind: 'dollar'; tag: string } | { kind: 'comment'; depth: number };

const identChar = (c: string | undefined) => !!c && /[A-Za-z0-9_$]/.test(c);

/** The first meta-command that pg_dump would not write, or undefined. */
export async function findForbiddenMetaCommand(file: string): Promise<MetaCommand | undefined> {
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  const scanner = metaScanner();
  try {
    for await (const line of rl) {
      const found = scanner(line);
      if (found) return found;
    }
  } finally {
    rl.close();
  }
  return undefined;
}

/** Feed lines one by one; returns the forbidden meta-command of a line, if any. */
export function metaScanner(): (line: string) => MetaCommand | undefined {
  let state: State = { kind: 'normal' };
  let inCopy = false;
  let n = 0;
  return (line) => {
    n++;
    if (inCopy) {
      if (line === '\\.') inCopy = false;
      return undefined;
    }
    let i = 0;
    while (i < line.length) {
      const c = line[i]!;
      switch (state.kind) {
        case 'comment':
          if (c === '*' && line[i + 1] === '/') {
            state = state.depth > 1 ? { kind: 'comment', depth: state.depth - 1 } : { kind: 'normal' };
            i += 2;
          } else if (c === '/' && line[i + 1] === '*') {
            state = { kind: 'comment', depth: state.depth + 1 };
            i += 2;
          } else i++;
          continue;
        case 'quote':
          if (state.escapes && c === '\\') i += 2;
          else if (c === "'" && line[i + 1] === "'") i += 2;
          else {
            if (c === "'") state = { kind: 'normal' };
            i++;
          }
          continue;
        case 'ident':
          if (c === '"' && line[i + 1] === '"') i += 2;
          else {
            if (c === '"') state = { kind: 'normal' };
            i++;
          }
          continue;
        case 'dollar':
          if (line.startsWith(state.tag, i)) {
            i += state.tag.length;
            state = { kind: 'normal' };
          } else i++;
          continue;
        case 'normal': {
          if (c === '-' && line[i + 1] === '-') {
            i = line.length;
            continue;
          }
          if (c === '/' && line[i + 1] === '*') {
            state = { kind: 'comment', depth: 1 };
            i += 2;
            continue;
          }
          if (c === "'") {
            const prev = line[i - 1];
            state = { kind: 'quote', escapes: (prev === 'E' || prev === 'e') && !identChar(line[i - 2]) };
            i++;
            continue;
          }
          if (c === '"') {
            state = { kind: 'ident' };
            i++;
            continue;
          }
          if (c === '$' && !identChar(line[i - 1])) {
            const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(line.slice(i));
            if (m) {
              state = { kind: 'dollar', tag: m[0] };
              i += m[0].length;
              continue;
            }
          }
          if (c === '\\') {
            const word = /^\\([A-Za-z]+|.?)/.exec(line.slice(i))![1]!;
            if (ALLOWED.has(word)) return undefined; // the rest of the line is its argument
            if (word === '.') {
              i += 2;
              continue;
            }
            return { line: n, command: `\\${word}` };
          }
          i++;
        }
      }
    }
    if (state.kind === 'normal' && /^COPY\s.+\sFROM\s+stdin;\s*$/i.test(line)) inCopy = true;
    return undefined;
  };
}
