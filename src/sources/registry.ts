// Source kind → module, and the typed way to call one. Adding a kind: a
// folder under src/sources/, a schema in src/inventory/schema.ts, and a case
// in withModule (the compiler insists on it).
import type { SourceConfig, SourceConfigOf, SourceKind } from '../inventory/schema.js';
import { delayedReplicaSource } from './delayed-replica/index.js';
import { dumpSource } from './dump/index.js';
import { pgbackrestSource } from './pgbackrest/index.js';
import { pitrSource } from './pitr/index.js';
import { snapshotSource } from './snapshot/index.js';
import type { Materialized, MaterializeRequest, ProbeContext, ProbeResult, SourceModule } from './types.js';

/** Call fn with the module of the config's kind and the config narrowed to that kind. */
function withModule<R>(config: SourceConfig, fn: <K extends SourceKind>(module: SourceModule<K>, config: SourceConfigOf<K>) => R): R {
  switch (config.kind) {
    case 'delayed-replica':
      return fn(delayedReplicaSource, config);
    case 'pitr':
      return fn(pitrSource, config);
    case 'pgbackrest':
      return fn(pgbackrestSource, config);
    case 'snapshot':
      return fn(snapshotSource, config);
    case 'dump':
      return fn(dumpSource, config);
  }
}

/** Probe one source (read-only). */
export function probeSource(config: SourceConfig, ctx: ProbeContext): Promise<ProbeResult> {
  return withModule(config, (m, c) => m.probe(c, ctx));
}

/** Bring the source's tables up in an instance undrop can read. */
export function materializeSource(config: SourceConfig, req: MaterializeRequest, probe: ProbeResult): Promise<Materialized> {
  return withModule(config, (m, c) => m.materialize(c, req, probe));
}
