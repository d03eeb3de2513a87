import { describe, expect, it } from 'vitest';
import { CopyOutSplitter } from '../../src/recovery/copy-out-split.js';

const msg = (code: string, body: Buffer | string = '') => {
  const b = Buffer.from(body);
  const h = Buffer.alloc(5);
  h[0] = code.charCodeAt(0);
  h.writeUInt32BE(b.length + 4, 1);
  return Buffer.concat([h, b]);
};

/** Feed `stream` cut at `cuts`; what came out as data, how it ended, what was left for pg. */
function run(stream: Buffer, cuts: number[]) {
  const s = new CopyOutSplitter();
  const data: Buffer[] = [];
  let at = 0;
  for (const end of [...cuts, stream.length]) {
    const r = s.feed(Buffer.from(stream.subarray(at, end)));
    if (r.data) data.push(Buffer.from(r.data));
    if (r.end) return { data: Buffer.concat(data).toString(), end: r.end, rest: Buffer.concat([r.rest!, stream.subarray(end)]).toString('latin1') };
    at = end;
  }
  return { data: Buffer.concat(data).toString(), end: undefined, rest: '' };
}

describe('CopyOutSplitter', () => {
  const rows = ['row one|', 'second row|', '', 'x'.repeat(300) + '|', 'last'];
  const tail = Buffer.concat([msg('C', 'COPY 5\0'), msg('Z', 'I')]);
  const stream = Buffer.concat([msg('H', '\0\0\0'), ...rows.slice(0, 2).map((r) => msg('d', r)), msg('N', 'a notice'), ...rows.slice(2).map((r) => msg('d', r)), msg('c'), tail]);

  it('gives the CopyData bytes, whatever the chunk boundaries, and hands back what follows CopyDone', () => {
    const cutsList: number[][] = [[]];
    for (let a = 1; a < stream.length; a++) cutsList.push([a]);
    for (let a = 1; a < stream.length; a += 7) for (let b = a + 1; b < stream.length; b += 5) cutsList.push([a, b]);
    cutsList.push(Array.from({ length: stream.length - 1 }, (_, k) => k + 1)); // one byte at a time
    for (const cuts of cutsList) {
      expect(run(stream, cuts), `cuts ${cuts.join(',')}`).toEqual({ data: rows.join(''), end: 'end', rest: tail.toString('latin1') });
    }
  });

  it('stops at an ErrorResponse and leaves it, and what follows, to pg', () => {
    const err = Buffer.concat([msg('E', 'SERROR\0'), msg('Z', 'E')]);
    const broken = Buffer.concat([msg('H', '\0\0\0'), msg('d', 'a|'), msg('d', 'b|'), err]);
    for (let a = 1; a < broken.length; a++) {
      const r = run(broken, [a]);
      expect(r.end).toBe('error');
      expect(r.rest).toBe(err.toString('latin1'));
      expect('a|b|'.startsWith(r.data)).toBe(true);
    }
  });

  it('moves the rows to the front of the chunk it was given (no copy)', () => {
    const chunk = Buffer.concat([msg('d', 'ab'), msg('d', 'cd')]);
    const r = new CopyOutSplitter().feed(chunk);
    expect(r.data!.toString()).toBe('abcd');
    expect(r.data!.buffer).toBe(chunk.buffer);
  });
});
