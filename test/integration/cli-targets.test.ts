// Target flags through the real CLI, no server needed: refused before
// anything else happens (exit 2, one paragraph with a HINT, no stack trace).
import { describe, expect, it } from 'vitest';
import { undrop } from '../cli.js';

describe('recover target flags: bad input is exit 2 before the inventory is read', () => {
  const cases: [string, string[], RegExp, RegExp][] = [
    ['a time without a zone', ['--target', 'time:2026-11-25 01:42'], /has no time zone/, /2026-11-25T01:42Z/],
    ['time:1', ['--target', 'time:1'], /is not a date and time/, /ISO 8601 with a zone/],
    ['--target-time without a zone', ['--target-time', '2026-11-25T01:42:48.123456'], /has no time zone/, /Z \(UTC\)/],
    ['two points at once', ['--target', 'latest', '--target-xid', '745'], /name different points/, /xid:N/],
    ['a bad timeline', ['--target-xid', '745', '--target-timeline', 'newest'], /is not a timeline/, /latest or current/],
  ];
  for (const [what, args, message, hint] of cases) {
    it(what, async () => {
      const r = await undrop(['-c', '/nonexistent/undrop.yaml', 'recover', '--tables', 'shipments', '--yes', ...args]);
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/HINT/);
      expect(r.stderr).toMatch(hint);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  }

  it('probe --incident-time without a zone is refused too', async () => {
    const r = await undrop(['-c', '/nonexistent/undrop.yaml', 'probe', '--incident-time', '2026-11-25 01:42']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/has no time zone/);
  });
});

describe('locate --since/--until: a time needs a zone too', () => {
  it('a zoneless --since is exit 2 before any WAL is read', async () => {
    const r = await undrop(['-c', '/nonexistent/undrop.yaml', 'locate', '--wal-dir', '/nonexistent', '--since', '2026-11-25 01:00']);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--since 2026-11-25 01:00 has no time zone/);
  });
});
