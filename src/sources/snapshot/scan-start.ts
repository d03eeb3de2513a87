// Where a WAL scan for one transaction may start, from a snapshot's
// pg_control. A checkpoint fixes its redo point before it reads the next
// transaction id it records (NextXID): a transaction whose id is at or past
// that NextXID was assigned after the redo point was fixed, so every record
// of it (and of its subtransactions, whose ids come later) lies after it. Of
// the snapshots that vouch so, the latest redo point is the start; whichever
// snapshot is restored, a scan from there reads the whole transaction. Used
// only when later than the newest base backup's start: at seed scale the
// scan from there read 71 s of WAL, and the publish waited 13.9 s for it.
import type { SourceConfigOf } from '../../inventory/schema.js';
import { dataDirMajor, findBinaries } from '../../postgres/binaries.js';
import { pgControldata } from '../../postgres/programs.js';
import { Lsn } from '../../postgres/wal/lsn.js';
import { expandPatterns } from '../common/paths.js';
import { fullXid } from '../common/xid.js';
import type { WalScanStart } from '../types.js';

/** Pure: does a checkpoint whose NextXID is `nextXid` ("epoch:xid") vouch that transaction `xid` began after its redo point? */
export function beganAfterCheckpoint(xid: string, nextXid: string | undefined): boolean {
  const m = /^(\d+):(\d+)$/.exec(nextXid ?? '');
  if (!m || !/^\d+$/.test(xid)) return false;
  const next = (BigInt(m[1]!) << 32n) + BigInt(m[2]!);
  return BigInt(fullXid(xid, String(next))) >= next;
}

export async function snapshotScanStart(config: SourceConfigOf<'snapshot'>, req: { database: string; xid: string }): Promise<WalScanStart | undefined> {
  const paths = await expandPatterns(config.paths);
  const vouched = await Promise.all(
    paths.map(async (p) => {
      const cd = await pgControldata(await findBinaries(await dataDirMajor(p)), p).catch(() => undefined);
      const redo = cd?.["Latest checkpoint's REDO location"];
      const next = cd?.["Latest checkpoint's NextXID"];
      const systemId = cd?.['Database system identifier'];
      return redo && Lsn.isLsn(redo) && systemId && beganAfterCheckpoint(req.xid, next) ? { path: p, redo, next: next!, systemId } : undefined;
    }).map((x) => x.catch(() => undefined)),
  );
  const best = vouched.filter((v) => v !== undefined).sort((a, b) => Lsn.compare(b.redo, a.redo))[0];
  return best && { lsn: best.redo, ifLater: true, systemId: best.systemId, reason: `snapshot ${best.path}'s last checkpoint (redo ${best.redo}) recorded next transaction id ${best.next}: transaction ${req.xid} began after its redo point` };
}
