import { describe, expect, it } from 'vitest';
import { memoizeAsync } from '../../src/util/memo.js';

describe('memoizeAsync', () => {
  it('answers each key once, concurrent callers included', async () => {
    const calls: string[] = [];
    const label = memoizeAsync(async (file: string, version: string) => {
      calls.push(`${file}@${version}`);
      return `label of ${file}`;
    }, (file, version) => `${file}\0${version}`);
    const [a, b] = await Promise.all([label('base.tar', '1'), label('base.tar', '1')]);
    expect(await label('base.tar', '1')).toBe('label of base.tar');
    expect([a, b]).toEqual(['label of base.tar', 'label of base.tar']);
    await label('base.tar', '2'); // the archive changed: asked again
    await label('other.tar', '1');
    expect(calls).toEqual(['base.tar@1', 'base.tar@2', 'other.tar@1']);
  });

  it('forgets a failure, so the next call tries again', async () => {
    let n = 0;
    const flaky = memoizeAsync(async () => {
      n++;
      if (n === 1) throw new Error('tar: unexpected EOF');
      return 'ok';
    }, () => 'k');
    await expect(flaky()).rejects.toThrow('unexpected EOF');
    expect(await flaky()).toBe('ok');
    expect(await flaky()).toBe('ok');
    expect(n).toBe(2);
  });
});
