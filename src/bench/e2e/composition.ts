// How much of the cluster the lost tables are: the seed goal is
// stated for lost tables ≤ 10 % of the cluster, where restoring only what
// was lost pays most. Read on the primary before the incident.
import { withClient } from '../../postgres/connect.js';
import type { ConnParams } from '../../postgres/conninfo.js';

export interface ClusterComposition {
  /** The lost tables with their TOAST and indexes (pg_total_relation_size). */
  lostBytes: number;
  /** Every database of the cluster (pg_database_size; WAL and shared catalogs not counted). */
  clusterBytes: number;
}

export async function clusterComposition(conn: ConnParams, tables: string[]): Promise<ClusterComposition> {
  return withClient(conn, async (c) => {
    const lost = await c.query<{ b: string }>('SELECT coalesce(sum(pg_total_relation_size(t::regclass)), 0)::text AS b FROM unnest($1::text[]) AS t', [tables]);
    const all = await c.query<{ b: string }>('SELECT sum(pg_database_size(oid))::text AS b FROM pg_database WHERE datallowconn');
    return { lostBytes: Number(lost.rows[0]!.b), clusterBytes: Number(all.rows[0]!.b) };
  });
}
