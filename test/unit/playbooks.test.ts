import { describe, expect, it } from 'vitest';
import { listPlaybooks, renderPlaybook } from '../../src/playbooks/load.js';

describe('playbooks', () => {
  it('every playbook file is valid and renders as a runbook', () => {
    const all = listPlaybooks();
    expect(all.length).toBeGreaterThanOrEqual(6);
    for (const p of all) {
      expect(p.steps.length).toBeGreaterThan(0);
      expect(renderPlaybook(p)).toContain(`# ${p.title}`);
    }
  });
});
