export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `undrop_20261125_024512` style stamp, UTC. */
export function stamp(date = new Date()): string {
  const iso = date.toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}_${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  const rest = Math.round(s - m * 60);
  if (m < 60) return `${m} min ${rest} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 && i > 0 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/**
 * A timestamp as PostgreSQL programs print it ("2026-11-25 01:28:03 UTC",
 * "… +02", "… -05:30") → ISO 8601, or null when unparseable.
 */
export function parsePgTimestamp(text: string): string | null {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)\s*(\S+)?$/.exec(text.trim());
  if (m) {
    const zone = m[3];
    let suffix: string | undefined;
    if (!zone || /^(UTC|GMT|Z)$/i.test(zone)) suffix = 'Z';
    else if (/^[+-]\d{1,2}(:?\d{2})?$/.test(zone)) {
      const z = /^([+-])(\d{1,2}):?(\d{2})?$/.exec(zone)!;
      suffix = `${z[1]}${z[2]!.padStart(2, '0')}:${z[3] ?? '00'}`;
    }
    if (suffix) {
      const t = Date.parse(`${m[1]}T${m[2]}${suffix}`);
      return Number.isNaN(t) ? null : new Date(t).toISOString();
    }
  }
  const t = Date.parse(text);
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

/**
 * A time a person typed (--target time:…, --target-time): ISO 8601 or
 * PostgreSQL style, date and time required, and a zone required (Z, UTC,
 * +02, +05:30, -0800): a time without one would be read in whatever zone the
 * laptop is in. Returns UTC ISO 8601 with the fraction kept to the
 * microsecond (PostgreSQL's precision), or null when it is not such a time.
 */
export function parseZonedTime(text: string): { iso: string } | { error: 'no-zone' | 'invalid' } {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$/i.exec(text.trim());
  if (!m) return { error: 'invalid' };
  const [, y, mo, d, h, mi, s = '00', frac = '', zone] = m;
  if (!zone) return { error: 'no-zone' };
  const nums = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  const local = Date.UTC(nums[0], nums[1] - 1, nums[2], nums[3], nums[4], nums[5]);
  const back = new Date(local);
  // Date.UTC rolls 2026-02-30 over into March: refuse instead.
  if (back.getUTCFullYear() !== nums[0] || back.getUTCMonth() !== nums[1] - 1 || back.getUTCDate() !== nums[2] || nums[3] > 23 || nums[4] > 59 || nums[5] > 59) return { error: 'invalid' };
  let offsetMin = 0;
  if (!/^(Z|UTC|GMT)$/i.test(zone)) {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    const hh = Number(z[2]);
    const mm = Number(z[3] ?? '0');
    if (hh > 15 || mm > 59) return { error: 'invalid' };
    offsetMin = (z[1] === '-' ? -1 : 1) * (hh * 60 + mm);
  }
  const utc = new Date(local - offsetMin * 60_000).toISOString().slice(0, 19);
  const micro = frac.padEnd(6, '0').slice(0, 6);
  // Milliseconds as toISOString() writes them; six digits when there are microseconds.
  return { iso: `${utc}.${micro.endsWith('000') ? micro.slice(0, 3) : micro}Z` };
}
