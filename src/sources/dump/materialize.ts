// Dump → temporary instance. The chosen dump is read whole first (a
// truncated custom dump prints a normal TOC), then restored into a fresh
// instance: schema, the wanted tables' data, then indexes and constraints.
// Plain SQL dumps are checked for psql meta-commands, then loaded whole by
// psql running as the server OS user. Nothing reaches production from here.
import { join } from 'node:path';
import { failure, usageError } from '../../errors.js';
import type { SourceConfigOf } from '../../inventory/schema.js';
import { findBinaries } from '../../postgres/binaries.js';
import { displayName } from '../../postgres/identifiers.js';
import { TempInstance } from '../../postgres/instance.js';
import { pgRestoreList, pgRestoreToNull } from '../../postgres/programs.js';
import { psqlFile } from '../../postgres/restore-programs.js';
import { tail } from '../../postgres/run.js';
import { readHead } from '../common/files.js';
import { chooseItem } from '../materialize/choose.js';
import { assertDiskSpace, diskUsage, copyTables } from '../materialize/preflight.js';
import type { Materialized, MaterializeRequest, ProbeResult } from '../types.js';
import { sniffDump } from './classify.js';
import { findForbiddenMetaCommand } from './plain-check.js';
import { restoreArchive } from '../common/restore-archive.js';
import { parseToc, tocTables } from '../common/toc.js';

function majorOf(version: string | null): number | undefined {
  const m = version ? /^(\d+)/.exec(version) : null;
  return m ? Number(m[1]) : undefined;
}

export async function materializeDump(_config: SourceConfigOf<'dump'>, req: MaterializeRequest, probe: ProbeResult): Promise<Materialized> {
  const item = chooseItem(probe, req.target, req.set);
  const file = item.path!;
  const progress = req.onProgress ?? (() => {});
  const size = await diskUsage(file);
  // Restored data is usually 2–5× the compressed dump.
  await assertDiskSpace(req.workDir, size * 4, `Restoring dump ${item.label}`);
  const sniff = sniffDump(await readHead(file, 4096), size);
  if (sniff.kind !== 'dump') throw failure('DUMP_INVALID', `${file} is not a usable dump (${sniff.kind}).`, { hint: 'Run `undrop probe` to see why, and choose another dump.' });
  const plain = sniff.format === 'plain' || sniff.format === 'plain-gzip';
  if (sniff.format === 'plain-gzip') throw usageError('DUMP_GZIP', `${file} is a gzip-compressed SQL dump.`, `Decompress it next to the others (gzip -dk ${file}) and run again.`);
  if (plain) {
    // psql would run a meta-command such as \! as a shell command: only what pg_dump writes is allowed.
    const meta = await findForbiddenMetaCommand(file);
    if (meta) {
      throw usageError('DUMP_META_COMMAND', `${file} line ${meta.line} holds the psql meta-command ${meta.command}, which pg_dump never writes; the dump was not loaded.`, 'Only \\connect, \\. and \\restrict/\\unrestrict are accepted in a plain dump. Check where this file came from, or use another dump.');
    }
  }

  let toc: ReturnType<typeof parseToc> | undefined;
  let bin = await findBinaries();
  if (!plain) {
    const listed = await pgRestoreList(bin, file);
    if (listed.exitCode !== 0) throw failure('DUMP_INVALID', `pg_restore cannot read ${file}.`, { details: tail(listed.stderr) });
    toc = parseToc(listed.stdout);
    const major = majorOf(toc.serverVersion);
    if (major && major > bin.major) bin = await findBinaries(major);
    const present = new Set(tocTables(toc).map((t) => `${t.schema}.${t.name}`));
    const missing = req.tables.filter((t) => !present.has(`${t.schema ?? 'public'}.${t.name}`));
    if (missing.length) throw usageError('TABLE_NOT_IN_SOURCE', `Dump ${item.label} does not contain ${missing.map((t) => displayName(t)).join(', ')}.`, 'Check the names; `pg_restore -l` lists what the dump holds.');
    progress(`reading ${file} whole to prove it is complete`);
  }
  // The whole read runs while the temporary instance is made and started; nothing is restored before it passes.
  const whole = plain ? null : pgRestoreToNull(bin, file);
  whole?.catch(() => {}); // awaited below
  const proveWhole = async () => {
    const full = await whole;
    if (full && full.exitCode !== 0) {
      throw failure('DUMP_TRUNCATED', `Dump ${file} is damaged or truncated: reading it whole failed.`, {
        hint: 'Its table of contents looks normal, but the data ends early. Use an older dump or another source; nothing was restored.',
        details: tail(full.stderr),
      });
    }
  };

  let inst: TempInstance;
  try {
    inst = await TempInstance.create({ bin, workDir: req.workDir, name: 'dump', keep: req.keep, throwaway: true });
  } catch (e) {
    await proveWhole(); // a damaged dump is the first thing to say
    throw e;
  }
  try {
    await inst.start();
    await inst.ensureDatabase(req.database);
    await proveWhole();
    const conn = inst.connParams(req.database);
    const notes: string[] = [];
    if (plain) {
      progress(`loading the whole SQL dump ${file}`);
      const r = await psqlFile(bin, conn, file);
      const errors = r.stderr.split('\n').filter((l) => /ERROR:/.test(l));
      if (errors.length) notes.push(`psql reported ${errors.length} error(s) while loading the plain dump (often missing roles): ${errors.slice(0, 3).join(' | ')}`);
    } else {
      await restoreArchive(bin, conn, file, toc!, req.tables, join(inst.root, 'lists'), notes, progress);
    }
    const { tables, rowsPending } = await copyTables(conn, req, `Dump ${item.label}`, inst.name);
    return {
      ...(rowsPending ? { rowsPending } : {}),
      instance: inst,
      conn,
      database: req.database,
      recoveryPoint: { time: item.recoveryPoint?.time ?? null, lsn: null, basis: item.recoveryPoint?.basis ?? 'dump time' },
      tables,
      notes: [`Restored from ${file}.`, ...notes],
      release: () => inst.destroy(),
    };
  } catch (e) {
    await inst.destroy();
    throw e;
  }
}

