// Source kind → module, and the typed way to call one. Adding a kind: a
// folder under src/sources/, a schema in src/inventory/schema.ts, and a case
// in withModule (the compiler insists on it).
import type { SourceConfig, SourceConfigOf, SourceKind } from '../inventory/schema.js';
import type { BaseBackupRef, FreezeContext, Frozen, Materialized, MaterializeRequest, ProbeContext, ProbeResult, SourceModule, WalAccess, WalScanStart } from './types.js';

// Each kind's module is imported when a source of that kind is first used: a recover from one named source
// loads its own kind's code only (from PITR: 126 of undrop's modules, not 165, before its first step).
const modules: { [K in SourceKind]: () => Promise<SourceModule<K>> } = {
  'delayed-replica': async () => (await import('./delayed-replica/index.js')).delayedReplicaSource,
  pitr: async () => (await import('./pitr/index.js')).pitrSource,
  pgbackrest: async () => (await import('./pgbackrest/index.js')).pgbackrestSource,
  barman: async () => (await import('./barman/index.js')).barmanSource,
  snapshot: async () => (await import('./snapshot/index.js')).snapshotSource,
  dump: async () => (await import('./dump/index.js')).dumpSource,
};

/** Call fn with the module of the config's kind and the config narrowed to that kind. */
async function withModule<R>(config: SourceConfig, fn: <K extends SourceKind>(module: SourceModule<K>, config: SourceConfigOf<K>) => R | Promise<R>): Promise<R> {
  switch (config.kind) {
    case 'delayed-replica':
      return fn(await modules['delayed-replica'](), config);
    case 'pitr':
      return fn(await modules.pitr(), config);
    case 'pgbackrest':
      return fn(await modules.pgbackrest(), config);
    case 'barman':
      return fn(await modules.barman(), config);
    case 'snapshot':
      return fn(await modules.snapshot(), config);
    case 'dump':
      return fn(await modules.dump(), config);
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

export interface FreezeStep {
  name: string;
  title: string;
  run(ctx: FreezeContext): Promise<Frozen | null>;
}

/** How to stop this source from moving toward the incident; null for sources that stand still. */
export function freezeStepOf(config: SourceConfig): Promise<FreezeStep | null> {
  return withModule(config, (m, c) => {
    const f = m.freeze;
    return f ? { name: `${f.name} ${c.name}`, title: f.title(c), run: (ctx: FreezeContext) => f.run(c, ctx) } : null;
  });
}

/** Where this source's WAL is (locate); null when it holds none. */
export async function walOf(config: SourceConfig): Promise<WalAccess | null> {
  return (await withModule(config, (m, c) => m.wal?.(c))) ?? null;
}

/** This source's base backups, newest start first (empty for sources without any). */
export async function baseBackupsOf(config: SourceConfig): Promise<BaseBackupRef[]> {
  return (await withModule(config, (m, c) => m.baseBackups?.(c))) ?? [];
}

/** Where a WAL scan may start and still read all of transaction `xid` (a paused replica's replay position); undefined: the usual start. */
export async function walScanStartOf(config: SourceConfig, req: { database: string; xid: string }): Promise<WalScanStart | undefined> {
  return withModule(config, (m, c) => m.walScanStart?.(c, req));
}

/** A WAL archive folder among the inventory's sources, for copies that replay WAL (a replica's copy). */
export function walArchiveAmong(sources: readonly SourceConfig[]): string | undefined {
  for (const s of sources) if (s.kind === 'pitr' && s.wal_archive) return s.wal_archive;
  return undefined;
}
