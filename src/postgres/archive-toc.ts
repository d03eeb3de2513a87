// The table of contents of a pg_dump custom-format archive (-Fc), read from
// the file's head instead of running `pg_restore -l`: the header and the TOC
// are written first, in pg_backup_archiver.c's WriteHead/WriteToc layout.
// Only archive versions 1.12 to 1.16 (pg_dump 9.6 to 18) are read; anything
// else throws, and the caller runs pg_restore -l instead.

export interface ArchiveTocEntry {
  dumpId: number;
  /** pg_class OID of the object's catalog ("2606" for pg_constraint), as pg_restore -l prints it. */
  tableoid: string;
  oid: string;
  /** The entry's type: TABLE, INDEX, FK CONSTRAINT, COMMENT … */
  desc: string;
}

const CUSTOM_FORMAT = 1;
const minor = (v: number) => (v >> 8) & 0xff;

/** Parse a custom-format archive's TOC from its first bytes (the whole schema-only archive is fine). Pure. */
export function parseArchiveToc(buf: Buffer): ArchiveTocEntry[] {
  let pos = 0;
  const byte = () => {
    if (pos >= buf.length) throw new Error('archive ends inside its table of contents');
    return buf[pos++]!;
  };
  if (buf.subarray(0, 5).toString('latin1') !== 'PGDMP') throw new Error('not a pg_dump custom-format archive');
  pos = 5;
  const [vmaj, vmin, vrev] = [byte(), byte(), byte()];
  const version = (vmaj << 16) | (vmin << 8) | vrev;
  if (vmaj !== 1 || vmin < 12 || vmin > 16) throw new Error(`archive version ${vmaj}.${vmin} is not read here`);
  const intSize = byte();
  const offSize = byte();
  if (intSize < 1 || intSize > 8 || offSize < 1 || offSize > 16) throw new Error('unexpected integer sizes in the archive header');
  if (byte() !== CUSTOM_FORMAT) throw new Error('not a custom-format archive');
  // ReadInt: a sign byte, then intSize bytes, least significant first.
  const int = () => {
    const sign = byte();
    let v = 0;
    for (let i = 0; i < intSize; i++) v += byte() * 2 ** (8 * i);
    return sign ? -v : v;
  };
  // ReadStr: a length (negative: NULL), then the bytes.
  const str = (): string | null => {
    const n = int();
    if (n < 0) return null;
    if (pos + n > buf.length) throw new Error('archive ends inside its table of contents');
    const s = buf.subarray(pos, pos + n).toString('utf8');
    pos += n;
    return s;
  };
  if (minor(version) >= 15) byte(); // compression algorithm
  else int(); // compression level
  for (let i = 0; i < 7; i++) int(); // creation time (struct tm)
  str(); // database name
  str(); // server version
  str(); // pg_dump version
  const count = int();
  if (count < 0 || count > 10_000_000) throw new Error('unexpected TOC entry count');
  const entries: ArchiveTocEntry[] = [];
  for (let k = 0; k < count; k++) {
    const dumpId = int();
    int(); // hadDumper
    const tableoid = str() ?? '';
    const oid = str() ?? '';
    str(); // tag
    const desc = str() ?? '';
    int(); // section
    str(); // defn
    str(); // dropStmt
    str(); // copyStmt
    str(); // namespace
    str(); // tablespace
    str(); // tableam
    if (minor(version) >= 16) int(); // relkind
    str(); // owner
    str(); // "with oids", always "false"
    while (str() !== null); // dependencies, ended by NULL
    pos += 1 + offSize; // custom format: data offset flag and offset
    if (pos > buf.length) throw new Error('archive ends inside its table of contents');
    entries.push({ dumpId, tableoid, oid, desc });
  }
  return entries;
}

/**
 * A pg_restore -L list of `entries`, in their order. pg_restore reads each line's leading dump ID; names are
 * left out (a name holding a newline would start a line of its own). Pure.
 */
export function restoreList(entries: ArchiveTocEntry[]): string {
  return entries.map((e) => `${e.dumpId}; ${e.tableoid} ${e.oid} ${e.desc}\n`).join('');
}
