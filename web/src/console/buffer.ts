// Console lines held column-wise: a million lines cost their text plus a few bytes each.
import { stripAnsi } from "./ansi";
import type { LineColumns } from "./pages";

export interface ConsoleFilter {
  writer: string | null;
  stream: "stdout" | "stderr" | null;
  search: string;
}

export class ConsoleBuffer {
  texts: string[] = [];
  writerOf = new Uint16Array(4096);
  streamOf = new Uint8Array(4096); // 1 stdout, 2 stderr
  timeOf = new Float64Array(4096);
  writers: string[] = [];
  private writerIndex = new Map<string, number>();
  length = 0;

  append(page: LineColumns): void {
    const count = page.texts.length;
    const needed = this.length + count;
    if (needed > this.writerOf.length) {
      const size = Math.max(needed, this.writerOf.length * 2);
      this.writerOf = grown(this.writerOf, new Uint16Array(size));
      this.streamOf = grown(this.streamOf, new Uint8Array(size));
      this.timeOf = grown(this.timeOf, new Float64Array(size));
    }
    // The page numbers its writers from 0; map them onto this buffer's numbering.
    const mapping = page.writerNames.map((name) => {
      let writer = this.writerIndex.get(name);
      if (writer === undefined) {
        writer = this.writers.length;
        this.writers.push(name);
        this.writerIndex.set(name, writer);
      }
      return writer;
    });
    const start = this.length;
    for (let i = 0; i < count; i++) {
      this.texts.push(page.texts[i]);
      this.writerOf[start + i] = mapping[page.writerOf[i]];
    }
    this.streamOf.set(page.streamOf, start);
    this.timeOf.set(page.timeOf, start);
    this.length = needed;
  }

  /** A predicate over line indices for `filter`; null when every line matches. */
  matcher(filter: ConsoleFilter): ((i: number) => boolean) | null {
    const writer = filter.writer === null ? -1 : (this.writerIndex.get(filter.writer) ?? -2);
    const stream = filter.stream === null ? 0 : filter.stream === "stdout" ? 1 : 2;
    const query = filter.search;
    if (writer === -1 && stream === 0 && !query) return null;
    // Smart case: a query in lower case matches any case.
    const fold = query === query.toLowerCase();
    return (i: number) => {
      if (writer !== -1 && this.writerOf[i] !== writer) return false;
      if (stream !== 0 && this.streamOf[i] !== stream) return false;
      if (!query) return true;
      const text = stripAnsi(this.texts[i]);
      return (fold ? text.toLowerCase() : text).includes(query);
    };
  }
}

function grown<T extends Uint16Array | Uint8Array | Float64Array>(old: T, fresh: T): T {
  fresh.set(old as never);
  return fresh;
}

/** The indices of the lines a filter keeps, extended as lines arrive. */
export class FilteredView {
  indices = new Int32Array(4096);
  length = 0;
  scanned = 0;

  constructor(
    readonly buffer: ConsoleBuffer,
    readonly match: ((i: number) => boolean) | null,
  ) {}

  /** Take in the lines appended since the last call. */
  update(): void {
    const { buffer, match } = this;
    if (match === null) {
      this.length = this.scanned = buffer.length;
      return;
    }
    for (let i = this.scanned; i < buffer.length; i++) {
      if (!match(i)) continue;
      if (this.length === this.indices.length) {
        const bigger = new Int32Array(this.indices.length * 2);
        bigger.set(this.indices);
        this.indices = bigger;
      }
      this.indices[this.length++] = i;
    }
    this.scanned = buffer.length;
  }

  lineAt(position: number): number {
    return this.match === null ? position : this.indices[position];
  }
}
