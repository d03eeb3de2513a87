// Pure parts of copy back from a paused replica read in place (no temporary
// instance), --jobs and the index builds' share of the worker pools.
import { beforeAll, describe, expect, it } from 'vitest';
import { jobsFlag } from '../../src/cli/jobs.js';
import { loadSqlScanner, moveNames } from '../../src/recovery/ddl-in-place.js';
import { maintenanceWorkers } from '../../src/recovery/index-workers.js';
import { splitPostData } from '../../src/recovery/post-data-split.js';

const S = 'undrop_staging_ab12';
const moved = [
  { schema: 'public', name: 'shipments' },
  { schema: 'public', name: 'shipments_id_seq' },
  { schema: 'public', name: 'shipments_pkey' },
  { schema: 'Sales', name: 'Order Items' },
];

describe('moveNames: the recovered objects, and only they, into the staging schema', () => {
  beforeAll(() => loadSqlScanner());

  it('never rewrites a string literal that is not a regclass (a comment\'s text), and keeps multibyte text around an edit intact', () => {
    const sql = `COMMENT ON TABLE public.shipments IS 'copied from public.shipments ≥ 2024';\nALTER TABLE "Sales"."Order Items" ADD CONSTRAINT "price ≥ 0" CHECK (unit_price >= 0);\n-- public.shipments in a comment line`;
    expect(moveNames(sql, moved, S)).toBe(
      `COMMENT ON TABLE "${S}"."shipments" IS 'copied from public.shipments ≥ 2024';\nALTER TABLE "${S}"."Order Items" ADD CONSTRAINT "price ≥ 0" CHECK (unit_price >= 0);\n-- public.shipments in a comment line`,
    );
  });

  it('matches names as PostgreSQL reads them: bare names fold to lower case, quoted ones do not; a regclass literal with quoted parts', () => {
    const sql = `CREATE TABLE PUBLIC.Shipments (id int);\nCREATE TABLE public."Shipments" (id int);\nSELECT nextval('"Sales"."Order Items"'::regclass);`;
    expect(moveNames(sql, moved, S)).toBe(`CREATE TABLE "${S}"."shipments" (id int);\nCREATE TABLE public."Shipments" (id int);\nSELECT nextval('"${S}"."Order Items"'::regclass);`);
  });
  it('rewrites tables, sequences (also in regclass literals and OWNED BY), indexes, quoted names', () => {
    const sql = [
      'CREATE TABLE public.shipments (',
      "    id bigint DEFAULT nextval('public.shipments_id_seq'::regclass) NOT NULL,",
      '    kind public.shipment_kind,',
      '    customer_id bigint',
      ');',
      'ALTER SEQUENCE public.shipments_id_seq OWNED BY public.shipments.id;',
      'COMMENT ON INDEX public.shipments_pkey IS \'x\';',
      'CREATE TABLE "Sales"."Order Items" (id integer);',
      'ALTER TABLE ONLY public.shipments ADD CONSTRAINT shipments_customer_fk FOREIGN KEY (customer_id) REFERENCES public.customers(id);',
      'CREATE TABLE public.shipments2 (id integer);',
    ].join('\n');
    const out = moveNames(sql, moved, S);
    expect(out).toContain(`CREATE TABLE "${S}"."shipments" (`);
    expect(out).toContain(`nextval('"${S}"."shipments_id_seq"'::regclass)`);
    expect(out).toContain('kind public.shipment_kind,');
    expect(out).toContain(`ALTER SEQUENCE "${S}"."shipments_id_seq" OWNED BY "${S}"."shipments".id;`);
    expect(out).toContain(`COMMENT ON INDEX "${S}"."shipments_pkey"`);
    expect(out).toContain(`CREATE TABLE "${S}"."Order Items"`);
    // other tables keep their schema, and a longer name is not a match
    expect(out).toContain('REFERENCES public.customers(id)');
    expect(out).toContain('CREATE TABLE public.shipments2 (id integer);');
  });

  it('leaves a name that only ends like a moved one (x.public.shipments, "public.shipments" as one identifier)', () => {
    expect(moveNames('SELECT x.public.shipments, "public.shipments"', moved, S)).toBe('SELECT x.public.shipments, "public.shipments"');
  });

  it('the rewritten post-data splits per table as the staging-schema dump did', () => {
    const post = [
      'SET statement_timeout = 0;',
      '',
      '--',
      '-- Name: shipments shipments_pkey; Type: CONSTRAINT; Schema: public; Owner: -',
      '--',
      '',
      'ALTER TABLE ONLY public.shipments',
      '    ADD CONSTRAINT shipments_pkey PRIMARY KEY (id);',
      '',
    ].join('\n');
    const split = splitPostData(moveNames(post, moved, S), S, ['shipments']);
    expect(split.perTable.get('shipments')).toContain(`ALTER TABLE ONLY "${S}"."shipments"`);
  });
});

describe('--jobs', () => {
  it('takes a whole number of 1 or more; absent is undefined (the default)', () => {
    expect(jobsFlag(undefined)).toBeUndefined();
    expect(jobsFlag('1')).toBe(1);
    expect(jobsFlag('16')).toBe(16);
  });
  it.each(['0', '-2', '1.5', 'x', '', ' 2', '1e1', '0x2', '99999999999999999999'])('refuses %j with JOBS_INVALID, exit 2', (v) => {
    expect(() => jobsFlag(v)).toThrow(expect.objectContaining({ code: 'JOBS_INVALID', exitCode: 2 }));
  });
});

describe('index build workers per loading session', () => {
  it('all loads together ask for at most what the pool has free', () => {
    const pools = { maxWorkerProcesses: 8, maxParallelWorkers: 8, busy: 0 };
    expect(maintenanceWorkers(pools, 1)).toBe(8);
    expect(maintenanceWorkers(pools, 3)).toBe(2);
    expect(maintenanceWorkers(pools, 4)).toBe(2);
    expect(maintenanceWorkers(pools, 5)).toBe(1);
    expect(maintenanceWorkers(pools, 9)).toBe(0);
    expect(maintenanceWorkers({ ...pools, busy: 6 }, 1)).toBe(2);
    expect(maintenanceWorkers({ ...pools, busy: 12 }, 1)).toBe(0);
    expect(maintenanceWorkers({ maxWorkerProcesses: 16, maxParallelWorkers: 4, busy: 0 }, 1)).toBe(4);
    expect(maintenanceWorkers({ maxWorkerProcesses: 0, maxParallelWorkers: 8, busy: 0 }, 1)).toBe(0);
    for (const parallel of [1, 2, 3, 4, 7, 9]) expect(maintenanceWorkers(pools, parallel) * parallel).toBeLessThanOrEqual(8);
    // production on this host: no worker while the loads alone fill its cores
    expect(maintenanceWorkers(pools, 3, 2)).toBe(0);
    expect(maintenanceWorkers(pools, 2, 2)).toBe(0);
    expect(maintenanceWorkers(pools, 1, 2)).toBe(8);
    expect(maintenanceWorkers(pools, 3, 16)).toBe(2);
  });
});
