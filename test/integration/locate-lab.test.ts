// locate on the training lab: after `lab incident`, the newest destructive
// event is exactly truth.json's transaction, with the three lost tables.
import { chmodSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/load.js';
import { runAllCleanups } from '../../src/postgres/cleanup.js';
import { labDown } from '../../src/lab/down.js';
import { labIncident } from '../../src/lab/incident.js';
import { labLayout } from '../../src/lab/layout.js';
import { labUp } from '../../src/lab/up.js';
import { locate, locateIncident } from '../../src/recovery/locate/index.js';
import { testWorkDir } from '../helpers.js';

const root = mkdtempSync(join(testWorkDir(), 'locate-lab-'));
chmodSync(root, 0o755);
const dir = join(root, 'lab');

afterAll(async () => {
  if (existsSync(dir)) await labDown(labLayout(dir)).catch(() => {});
  await runAllCleanups();
  await execa('rm', ['-rf', root]);
});

describe('locate on the lab', () => {
  it('returns exactly the incident of truth.json with the three table names', async () => {
    await labUp({ dir, scale: 2000, delay: '2min' });
    const { truthFile } = await labIncident({ dir });
    const truth = JSON.parse(readFileSync(truthFile, 'utf8')) as { incident: { xid: string; commitLsn: string; firstLsn: string; database: string; tables: string[] } };
    const inventory = await loadInventory(labLayout(dir).inventoryFile);
    const r = await locate(inventory, { workDir: testWorkDir() });
    const e = r.events.find((x) => x.xid === truth.incident.xid);
    expect(e, JSON.stringify(r.events.map((x) => [x.kind, x.xid, x.relations.map((y) => y.name)]))).toBeDefined();
    expect(e!.kind).toBe('drop');
    expect(e!.commitLsn).toBe(truth.incident.commitLsn);
    expect(e!.firstLsn).toBe(truth.incident.firstLsn);
    expect(e!.database.name).toBe(truth.incident.database);
    expect(e!.relations.map((x) => x.name).sort()).toEqual([...truth.incident.tables].sort());
    expect(e!.recreated.map((x) => x.name).sort()).toEqual([...truth.incident.tables].sort());
    const t = await locateIncident(inventory, { tables: truth.incident.tables.join(','), workDir: testWorkDir() });
    expect(t).toMatchObject({ kind: 'xid', xid: truth.incident.xid, commitLsn: truth.incident.commitLsn, inclusive: false });
  }, 900_000);
});
