// How copy back compresses the recovered rows' large values (TOAST). The
// values are the same either way (checksums hash them decompressed); only how
// production stores them differs. lz4 (PostgreSQL ≥ 14, when the server was
// built with it) compresses several times faster than pglz, the default, and
// production's COPY of a table with large values is the copy's critical path:
// 350 k rows with 3,500 values of 6.4 kB, COPY FROM alone: 1.13 s with pglz,
// 0.75 s with lz4 (3 runs each). Only the recovered rows are written so; a
// column's own setting (ALTER TABLE … SET COMPRESSION, kept by pg_dump's DDL)
// still wins, and later writes use the server's default again.
import type pg from 'pg';

export const TOAST_COMPRESSION_CHOICES = ['lz4', 'server'] as const;
export type ToastCompressionChoice = (typeof TOAST_COMPRESSION_CHOICES)[number];

/** What production offers: its default and whether it can write lz4. */
export interface ToastCompressionOffer {
  serverDefault: string;
  lz4: boolean;
}

export async function toastCompressionOffer(c: pg.Client): Promise<ToastCompressionOffer> {
  // PostgreSQL < 14 has no such setting: no row, nothing to choose.
  const r = await c.query<{ setting: string; lz4: boolean }>(`SELECT setting, 'lz4' = ANY(enumvals) AS lz4 FROM pg_settings WHERE name = 'default_toast_compression'`);
  const row = r.rows[0];
  return row ? { serverDefault: row.setting, lz4: row.lz4 } : { serverDefault: 'pglz', lz4: false };
}

/** The method the loads set (SET LOCAL), or null to leave the server's default. Pure. */
export function chooseToastCompression(choice: ToastCompressionChoice, offer: ToastCompressionOffer): 'lz4' | null {
  if (choice === 'server' || !offer.lz4 || offer.serverDefault === 'lz4') return null;
  return 'lz4';
}
