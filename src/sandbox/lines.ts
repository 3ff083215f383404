/**
 * Splits a byte stream into lines without ever holding more than a bounded
 * amount: the function controls these streams, so a line with no newline
 * must not grow the host's memory without limit.
 */

export interface LineSplitterOptions {
  /** Longest line kept whole. */
  maxLineBytes: number;
  /** `cut`: emit the first maxLineBytes as a line and carry on; `overflow`: stop and report. */
  onLongLine: 'cut' | 'overflow';
  onLine: (line: string) => void;
  /** Called once, with the bytes seen so far, when a line outgrows the cap in `overflow` mode. */
  onOverflow?: (bytes: number) => void;
}

/** Incremental, bounded splitting of a byte stream into UTF-8 lines. */
export class LineSplitter {
  private readonly options: LineSplitterOptions;
  private parts: Buffer[] = [];
  private size = 0;
  private overflowed = false;

  constructor(options: LineSplitterOptions) {
    this.options = options;
  }

  /** Feed one chunk; complete lines are emitted synchronously. */
  push(chunk: Buffer): void {
    if (this.overflowed) return;
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      const end = nl === -1 ? chunk.length : nl;
      if (!this.append(chunk.subarray(start, end))) return;
      if (nl === -1) break;
      this.emit();
      start = nl + 1;
    }
  }

  /** Emit what is left as a final line (the stream ended without a newline). */
  end(): void {
    if (!this.overflowed && this.size > 0) this.emit();
  }

  private append(piece: Buffer): boolean {
    const { maxLineBytes } = this.options;
    while (this.size + piece.length > maxLineBytes) {
      if (this.options.onLongLine === 'overflow') {
        this.overflowed = true;
        const seen = this.size + piece.length;
        this.parts = [];
        this.size = 0;
        this.options.onOverflow?.(seen);
        return false;
      }
      const room = maxLineBytes - this.size;
      this.parts.push(piece.subarray(0, room));
      this.size += room;
      this.emit();
      piece = piece.subarray(room);
    }
    if (piece.length > 0) {
      this.parts.push(piece);
      this.size += piece.length;
    }
    return true;
  }

  private emit(): void {
    const line =
      this.parts.length === 1
        ? this.parts[0]!.toString('utf8')
        : Buffer.concat(this.parts, this.size).toString('utf8');
    this.parts = [];
    this.size = 0;
    this.options.onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
  }
}
