// Source kind → module. Adding a kind: a folder under src/sources/ and a line here.
import type { SourceKind } from '../inventory/schema.js';
import { delayedReplicaSource } from './delayed-replica/index.js';
import { dumpSource } from './dump/index.js';
import { pgbackrestSource } from './pgbackrest/index.js';
import { pitrSource } from './pitr/index.js';
import { snapshotSource } from './snapshot/index.js';
import type { SourceModule } from './types.js';

export const registry: { [K in SourceKind]: SourceModule<K> } = {
  'delayed-replica': delayedReplicaSource,
  pitr: pitrSource,
  pgbackrest: pgbackrestSource,
  snapshot: snapshotSource,
  dump: dumpSource,
};

export function sourceModule<K extends SourceKind>(kind: K): SourceModule<K> {
  return registry[kind];
}
