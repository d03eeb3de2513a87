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
