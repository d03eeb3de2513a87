// locate on the training lab: after `lab incident`, the newest destructive
// event is exactly truth.json's transaction, with the three lost tables.
import { describe, expect, it } from 'vitest';
import { locate, locateIncident } from '../../src/recovery/locate/index.js';
import { testWorkDir } from '../helpers.js';
import { useLab } from '../helpers/lab.js';

const lab = useLab({ name: 'locate-lab', scale: 2000, delay: '2min', timeoutMs: 900_000 });

describe('locate on the lab', () => {
  it('returns exactly the incident of truth.json with the three table names', async () => {
    const truth = lab.truth as { incident: { xid: string; commitLsn: string; firstLsn: string; database: string; tables: string[] } };
    const inventory = lab.inventory;
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
  });
});
