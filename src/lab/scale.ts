// --scale of the lab: the number of shipments (events 1.5×, invoices 0.5×).
import { usageError } from '../errors.js';

export const DEFAULT_SCALE = 100_000;

export function parseScale(v: number | undefined): number {
  const scale = v ?? DEFAULT_SCALE;
  if (!Number.isInteger(scale) || scale < 100 || scale > 100_000_000) {
    throw usageError('LAB_SCALE_INVALID', `--scale ${String(v)} is not a number of shipments between 100 and 100000000.`, `Use for example --scale ${DEFAULT_SCALE} (the default) or --scale 5000000 (15 million rows in all).`);
  }
  return scale;
}
