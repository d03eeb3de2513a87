// The inventory's `verify:` block (top level, or per source; a source's
// fields override the global ones): what a nightly restore test checks
// beyond "it restored".
import * as z from 'zod';

const percent = z.union([z.number().min(0), z.string().regex(/^\d+(\.\d+)?\s*%$/, { message: 'expected a percentage such as "5%"' })]);

const expectation = z.union([
  z.literal(true),
  z.number(),
  z.string(),
  z.strictObject({ min: z.number().optional(), max: z.number().optional() }).refine((r) => r.min !== undefined || r.max !== undefined, { message: 'a range needs min or max' }),
]);

export const verifySchema = z.strictObject({
  /** Tables that must exist: "all" (every table of production's database, the default) or a list. */
  tables: z.union([z.literal('all'), z.array(z.string().min(1))]).optional(),
  /** Row counts against production's: allowed difference, plus a growth allowance per day of the source's age. */
  rows: z
    .strictObject({
      tolerance: percent.optional(),
      per_day: percent.optional(),
      /** Differences this small always pass (tiny tables). */
      slack: z.number().int().min(0).optional(),
    })
    .optional(),
  /** User queries: the first column of the first row is compared with expect (a value, {min,max}, or true). */
  queries: z.array(z.strictObject({ name: z.string().min(1).optional(), sql: z.string().min(1), expect: expectation })).optional(),
  /** amcheck: bt_index_check on every B-tree index of the restored tables, and verify_heapam. */
  amcheck: z.boolean().optional(),
  /** Small tables checksummed against production at a restore point verify creates (WAL sources: pitr, pgbackrest). */
  checksums: z.array(z.string().min(1)).optional(),
});

export type VerifyConfig = z.infer<typeof verifySchema>;
export type Expectation = z.infer<typeof expectation>;

/** "5%" or 5 → 0.05. */
export function fraction(p: string | number | undefined, fallback: number): number {
  if (p === undefined) return fallback;
  return (typeof p === 'number' ? p : parseFloat(p)) / 100;
}

/** The source's block over the global one, field by field. */
export function mergeVerify(global: VerifyConfig | undefined, own: VerifyConfig | undefined): VerifyConfig {
  return { ...(global ?? {}), ...(own ?? {}), rows: { ...(global?.rows ?? {}), ...(own?.rows ?? {}) } };
}
