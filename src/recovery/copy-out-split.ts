// The rows of a COPY … TO STDOUT, out of the server's message stream, without
// an object per row: pg-copy-streams 7 takes one Buffer slice per CopyData
// message (one per row) and concatenates them per socket read, and those
// slices were most of node's garbage collection during copy back. Here the
// CopyData bodies of a chunk are moved to its front, over the 5-byte message
// headers (copyWithin: no allocation), and that front part is the output.
// Message framing as in pg-copy-streams' copy-to: CopyOutResponse, CopyData,
// ParameterStatus, NoticeResponse and NotificationResponse go on; an
// ErrorResponse stops before itself (pg reads it); anything else (CopyDone)
// ends the copy and what follows it is pg's again.

const ERROR_RESPONSE = 0x45; // E
const COPY_DATA = 0x64; // d
const GOES_ON = new Set([0x48 /* CopyOutResponse */, COPY_DATA, 0x53 /* ParameterStatus */, 0x4e /* NoticeResponse */, 0x41 /* NotificationResponse */]);
const HEADER = 5; // code byte + Int32 length (which counts itself)

export interface SplitChunk {
  /** The CopyData bytes of the chunk (a view of it), or null when it held none. */
  data: Buffer | null;
  /** 'error': an ErrorResponse starts `rest`; 'end': the copy ended, `rest` is what came after it. */
  end?: 'error' | 'end';
  rest?: Buffer;
}

export class CopyOutSplitter {
  private readonly head = Buffer.alloc(HEADER);
  /** Bytes of a header split across chunks, read so far. */
  private headRead = 0;
  private inBody = false;
  private code = 0;
  /** Body bytes of the current message still to come. */
  private left = 0;

  /** Split one chunk; it is rewritten in place (its CopyData bytes moved to the front). */
  feed(chunk: Buffer): SplitChunk {
    let n = 0; // CopyData bytes gathered at the chunk's front
    let i = 0;
    const result = (extra: Omit<SplitChunk, 'data'> = {}): SplitChunk => ({ data: n > 0 ? chunk.subarray(0, n) : null, ...extra });
    for (;;) {
      if (this.inBody) {
        const take = Math.min(this.left, chunk.length - i);
        if (take > 0 && this.code === COPY_DATA) {
          if (n !== i) chunk.copyWithin(n, i, i + take);
          n += take;
        }
        i += take;
        this.left -= take;
        if (this.left > 0) return result();
        this.inBody = false;
        if (!GOES_ON.has(this.code)) return result({ end: 'end', rest: chunk.subarray(i) });
      }
      if (i >= chunk.length) return result();
      if (this.headRead === 0) {
        const code = chunk[i]!;
        if (code === ERROR_RESPONSE) return result({ end: 'error', rest: chunk.subarray(i) });
        if (i + HEADER <= chunk.length) {
          this.begin(code, chunk.readUInt32BE(i + 1));
          i += HEADER;
          continue;
        }
      }
      while (this.headRead < HEADER && i < chunk.length) this.head[this.headRead++] = chunk[i++]!;
      if (this.headRead < HEADER) return result();
      this.headRead = 0;
      this.begin(this.head[0]!, this.head.readUInt32BE(1));
    }
  }

  private begin(code: number, length: number): void {
    this.code = code;
    this.left = Math.max(0, length - 4);
    this.inBody = true;
  }
}
