// Progress of a restore that a program does (tar, cp, pgbackrest): the
// target folder is measured every few seconds against the expected size,
// with the rate. Compressed archives grow past their own size: then only
// bytes and rate are shown.
import { formatBytes } from '../../util/time.js';
import { diskUsage } from './preflight.js';

/** One progress line. Pure. */
export function restoreLine(label: string, bytes: number, total: number | null, seconds: number): string {
  const rate = seconds > 0 ? `, ${formatBytes(bytes / seconds)}/s` : '';
  const of = total && total > 0 && bytes <= total ? ` of ~${formatBytes(total)} (${Math.round((bytes / total) * 100)}%)` : '';
  return `${label}: ${formatBytes(bytes)} written${of}${rate}`;
}

/** Measure `dir` every `everyMs` while `work` runs. */
export async function withRestoreProgress<T>(dir: string, label: string, total: number | null, report: ((m: string) => void) | undefined, work: () => Promise<T>, everyMs = 2000): Promise<T> {
  if (!report) return work();
  const t0 = Date.now();
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    diskUsage(dir)
      .then((b) => report(restoreLine(label, b, total, (Date.now() - t0) / 1000)))
      .catch(() => {})
      .finally(() => {
        busy = false;
      });
  }, everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
