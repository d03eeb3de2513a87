import { describe, expect, it } from 'vitest';
import { undrop } from '../cli.js';

describe('CLI frame', () => {
  it('prints a runbook', async () => {
    const r = await undrop(['playbook', 'pitr']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('recovery_target_inclusive = off');
  });

  it('lists playbooks as one JSON document with --json', async () => {
    const r = await undrop(['--json', 'playbook']);
    expect(r.exitCode).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.playbooks.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['pitr', 'dump', 'snapshot', 'delayed-replica', 'incident']));
  });

  it('without a command and without a terminal, says the guided flow needs one (exit 2)', async () => {
    const r = await undrop([]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/GUIDED_NEEDS_TERMINAL/);
    expect(r.stderr).toMatch(/^HINT: /m);
  });

  it('merge flags: --on-conflict only with --mode merge; a bad choice and promote without --schema are exit 2', async () => {
    const r = await undrop(['recover', '--tables', 't', '--mode', 'replace', '--on-conflict', 'keep-live', '--yes']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/error \[ON_CONFLICT_NEEDS_MERGE\]: --on-conflict keep-live applies only to --mode merge/);
    const bad = await undrop(['promote', '--schema', 's', '--mode', 'merge', '--on-conflict', 'overwrite']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("argument 'overwrite' is invalid");
    const pm = await undrop(['recover', '--tables', 't', '--process-max', '0', '--yes']);
    expect(pm.exitCode).toBe(2);
    expect(pm.stderr).toMatch(/error \[PROCESS_MAX_INVALID\]: --process-max 0 is not a whole number/);
    const noSchema = await undrop(['promote', '--mode', 'merge']);
    expect(noSchema.exitCode).toBe(2);
    expect(noSchema.stderr).toContain("required option '--schema <name>' not specified");
  });

  it('--jobs: a whole number of 1 or more, else JOBS_INVALID (exit 2, one HINT, no stack); --json gets an error document', async () => {
    for (const bad of ['0', '-1', '2.5', 'two', '1e2', '']) {
      const r = await undrop(['recover', '--tables', 't', '--jobs', bad, '--yes']);
      expect(r.exitCode, `--jobs ${bad}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/error \[JOBS_INVALID\]: --jobs .* is not a whole number of 1 or more/);
      expect(r.stderr).toMatch(/^HINT: For example --jobs 2/m);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
    const j = await undrop(['--json', 'recover', '--tables', 't', '--jobs', '0', '--yes']);
    expect(JSON.parse(j.stdout).error).toMatchObject({ code: 'JOBS_INVALID', exitCode: 2 });
    const missing = await undrop(['recover', '--tables', 't', '--jobs']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain("option '--jobs <n>' argument missing");
  });

  it('refuses an unknown option with exit 2', async () => {
    const r = await undrop(['--bogus']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("unknown option '--bogus'");
  });

  it('explains an unknown playbook with a hint, exit 2, no stack trace; --json gets an error document', async () => {
    const r = await undrop(['playbook', 'tape']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/error \[PLAYBOOK_UNKNOWN\]/);
    expect(r.stderr).toMatch(/^HINT: Known playbooks:/m);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
    const j = await undrop(['--json', 'playbook', 'tape']);
    expect(JSON.parse(j.stdout).error).toMatchObject({ code: 'PLAYBOOK_UNKNOWN', exitCode: 2 });
  });

  it('refuses --pg-bin pointing nowhere when PostgreSQL programs are needed', async () => {
    const { findBinaries } = await import('../../src/postgres/binaries.js');
    const { configurePostgres } = await import('../../src/postgres/settings.js');
    configurePostgres({ pgBin: '/nowhere/bin' });
    await expect(findBinaries(15)).rejects.toMatchObject({ code: 'PG_BIN_INVALID', exitCode: 2 });
    configurePostgres({});
  });
});
