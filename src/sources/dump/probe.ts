// Probe a dump source: every file the paths match, each classified, its TOC
// read, and (under --deep) read completely.
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import pMap from 'p-map';
import type { SourceConfigOf } from '../../inventory/schema.js';
import { type PgBinaries, findBinaries } from '../../postgres/binaries.js';
import { pgRestoreList, pgRestoreToNull } from '../../postgres/programs.js';
import { errorMessage } from '../../errors.js';
import type { Finding, ProbeContext, ProbeItem, ProbeResult, TableInfo } from '../types.js';
import { aggregateItems } from '../common/aggregate.js';
import { fsErrorText, readHead, readTail } from '../common/files.js';
import { error, firstLine, info, statusOf, warn } from '../common/findings.js';
import { lossWindowMs } from '../common/loss.js';
import { expandPatterns } from '../common/paths.js';
import { type KnownTable, matchTables } from '../common/tables.js';
import { checkAge, checkSize, thresholdsFor, type Thresholds } from '../common/thresholds.js';
import {
  type DumpFormat,
  deepReadFindings,
  parsePlainHeader,
  plainTrailerFindings,
  sizeDropFindings,
  sniffDump,
  sniffFindings,
} from './classify.js';
import { type Toc, parseToc, tocTables } from '../common/toc.js';
import { plainTables } from './plain-tables.js';

export interface DumpFileProbe {
  item: ProbeItem;
  format: DumpFormat | null;
  toc: Toc | null;
  tables: KnownTable[];
  /** True when the file is a dump (whatever its health), for size comparisons. */
  isDump: boolean;
}

const PLAIN_SCAN_LIMIT = 256 * 1024 * 1024;

export async function probeDumpFile(path: string, ctx: ProbeContext, t: Thresholds, bin: () => Promise<PgBinaries>): Promise<DumpFileProbe> {
  const label = basename(path);
  const findings: Finding[] = [];
  const done = (extra: Partial<DumpFileProbe> = {}, point: ProbeItem['recoveryPoint'] = null, size?: number): DumpFileProbe => ({
    item: { label, path, status: statusOf(findings), recoveryPoint: point, ...(size !== undefined ? { sizeBytes: size } : {}), findings },
    format: null,
    toc: null,
    tables: [],
    isDump: false,
    ...extra,
  });
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    findings.push(error('FILE_UNREADABLE', `Cannot read ${path}: ${fsErrorText(e)}.`, 'Check the path and that undrop may read it.'));
    return done();
  }
  const isDir = st.isDirectory();
  const size = isDir ? 0 : st.size;
  let head: Buffer = Buffer.alloc(0);
  if (isDir) {
    if (!existsSync(join(path, 'toc.dat'))) {
      findings.push(error('DUMP_NOT_A_DUMP', 'The folder is not a directory-format dump (no toc.dat).', 'Point the dump source at dump files or directory-format dump folders.'));
      return done();
    }
  } else {
    try {
      head = await readHead(path, 4096);
    } catch (e) {
      findings.push(error('FILE_UNREADABLE', `Cannot read the file: ${fsErrorText(e)}.`, 'Check its permissions (undrop needs read access).'));
      return done({}, null, size);
    }
  }
  const mtime = st.mtime;
  const sniff = sniffDump(head, size, isDir);
  findings.push(...sniffFindings(sniff, size));
  if (sniff.kind !== 'dump') return done({}, { time: mtime.toISOString(), lsn: null, basis: 'file modification time' }, size);

  const format = sniff.format;
  let toc: Toc | null = null;
  let tables: KnownTable[] = [];
  let dumpTime: Date | null = null;
  let basis = 'file modification time (upper bound)';
  if (format === 'custom' || format === 'tar' || format === 'directory') {
    const b = await bin();
    const r = await pgRestoreList(b, path, ctx.timeoutMs);
    if (r.exitCode !== 0) {
      findings.push(error('DUMP_UNREADABLE', `pg_restore cannot read its table of contents: ${firstLine(r.stderr || r.stdout)}`, 'The file is damaged or was written by a newer pg_dump; try pg_restore -l by hand.'));
      return done({ format, isDump: true }, { time: mtime.toISOString(), lsn: null, basis }, size);
    }
    toc = parseToc(r.stdout);
    tables = tocTables(toc).map((x) => ({ schema: x.schema, name: x.name, rows: null }));
    if (toc.createdAt) {
      dumpTime = new Date(toc.createdAt);
      basis = 'dump start (archive TOC)';
    }
    const noData = tocTables(toc).filter((x) => !x.hasData);
    if (noData.length > 0 && noData.length === tables.length && tables.length > 0) {
      findings.push(warn('DUMP_SCHEMA_ONLY', 'The dump holds table definitions but no table data (schema-only).', 'Use a dump taken with data.'));
    }
    if (toc.serverVersion) findings.push(info('DUMP_VERSION', `Dumped from PostgreSQL ${toc.serverVersion}${toc.dbname ? `, database ${toc.dbname}` : ''}.`));
    if (ctx.deep) {
      const rr = await pgRestoreToNull(b, path, Math.max(ctx.timeoutMs, 60_000));
      findings.push(...deepReadFindings(rr.exitCode, rr.stderr));
    }
  } else if (format === 'plain') {
    const tailBuf = await readTail(path, 4096, size);
    findings.push(...plainTrailerFindings(tailBuf.toString('utf8')));
    const h = parsePlainHeader(head.toString('utf8'));
    if (h.serverVersion) findings.push(info('DUMP_VERSION', `Dumped from PostgreSQL ${h.serverVersion} (plain SQL).`));
    if (h.startedOn) {
      const tt = Date.parse(h.startedOn.replace(' UTC', 'Z').replace(' ', 'T'));
      if (!Number.isNaN(tt)) {
        dumpTime = new Date(tt);
        basis = 'dump start (header)';
      }
    }
    if (size <= PLAIN_SCAN_LIMIT || ctx.deep) {
      try {
        tables = await plainTables(path);
      } catch (e) {
        findings.push(warn('DUMP_SCAN_FAILED', `Could not scan the SQL for tables: ${errorMessage(e)}`));
      }
    } else {
      findings.push(info('DUMP_TABLES_NOT_SCANNED', 'Plain dump too large to scan for tables cheaply; --deep scans it.'));
    }
  } else {
    findings.push(info('DUMP_COMPRESSED_PLAIN', 'A gzip-compressed plain SQL dump; its completeness cannot be checked without decompressing it.', 'zcat FILE | tail -3 should end with "-- PostgreSQL database dump complete".'));
  }
  // A dump cannot hold data newer than its file's last write.
  let time = dumpTime ?? mtime;
  if (dumpTime && mtime < dumpTime) {
    time = mtime;
    basis = 'file modification time (older than the archive TOC)';
  }
  findings.push(...checkAge(t, time, ctx.now, 'The dump'), ...checkSize(t, isDir ? null : size, 'The dump'));
  return done({ format, toc, tables, isDump: true }, { time: time.toISOString(), lsn: null, basis }, isDir ? undefined : size);
}

export async function probeDump(config: SourceConfigOf<'dump'>, ctx: ProbeContext): Promise<ProbeResult> {
  const started = Date.now();
  const t = thresholdsFor(config);
  const paths = await expandPatterns(config.paths);
  const sourceFindings: Finding[] = [];
  let binP: Promise<PgBinaries> | undefined;
  const bin = () => (binP ??= findBinaries());
  // Files one after another took seconds with a month of nightly dumps: a few at a time (each is a read or a pg_restore -l).
  const files = await pMap(
    paths,
    (p): Promise<DumpFileProbe> =>
      probeDumpFile(p, ctx, t, bin).catch((e: unknown) => ({
        item: { label: basename(p), path: p, status: 'unusable', recoveryPoint: null, findings: [error('PROBE_FAILED', errorMessage(e))] },
        format: null,
        toc: null,
        tables: [],
        isDump: false,
      })),
    { concurrency: Math.max(2, availableParallelism()) },
  );
  // Default truncation check: each dump against the older dumps of the same format.
  if (!ctx.deep) {
    for (const f of files) {
      if (!f.isDump || f.item.sizeBytes === undefined || f.item.status === 'unusable') continue;
      const ft = f.item.recoveryPoint?.time ?? '';
      const prev = files
        .filter((o) => o !== f && o.isDump && o.format === f.format && o.item.sizeBytes !== undefined && (o.item.recoveryPoint?.time ?? '') <= ft)
        .map((o) => o.item.sizeBytes!);
      const extra = sizeDropFindings(f.item.sizeBytes, prev);
      if (extra.length) {
        f.item.findings.push(...extra);
        f.item.status = statusOf(f.item.findings);
      }
    }
  }
  if (paths.length === 0) {
    sourceFindings.push(error('NO_DUMPS_FOUND', `No file matches ${config.paths.join(', ')}.`, 'Check the paths in undrop.yaml and that the dump job writes there.'));
  }
  const agg = aggregateItems(files.map((f) => f.item), sourceFindings, 'dump');
  const chosen = files.find((f) => f.item === agg.chosen);
  const tables: TableInfo[] = chosen ? matchTables(ctx.tables, chosen.tables) : [];
  return {
    name: config.name,
    kind: 'dump',
    status: agg.status,
    recoveryPoint: agg.recoveryPoint,
    tables,
    findings: agg.findings,
    items: agg.items,
    lossWindowMs: lossWindowMs(agg.recoveryPoint, ctx.target),
    timeLeftMs: null,
    estimatedMaterializeMs: chosen?.item.sizeBytes ? Math.round(1000 + chosen.item.sizeBytes / 20_000) : null,
    durationMs: Date.now() - started,
  };
}
