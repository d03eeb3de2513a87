// -q keeps notes and progress off stderr; results and errors stay.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { undrop } from '../cli.js';
import { testWorkDir } from '../helpers.js';

describe('-q / --quiet', () => {
  it('silences notes but not errors', async () => {
    const dir = mkdtempSync(join(testWorkDir(), 'quiet-'));
    const cfg = join(dir, 'undrop.yaml');
    writeFileSync(cfg, `production:\n  dsn: "host=/nonexistent dbname=shop"\nsources:\n  - name: nightly\n    kind: dump\n    paths: ["${dir}/*.dump"]\n`);
    const loud = await undrop(['-c', cfg, 'pause']);
    expect(loud.exitCode).toBe(0);
    expect(loud.stderr).toContain('lists no delayed replica: nothing to pause');
    const quiet = await undrop(['-q', '-c', cfg, 'pause']);
    expect(quiet.exitCode).toBe(0);
    expect(quiet.stderr).toBe('');
    const err = await undrop(['-q', '-c', cfg, 'pause', '--source', 'nightly']);
    expect(err.exitCode).toBe(2);
    expect(err.stderr).toContain('NOT_A_REPLICA');
  });
});
