// Pages of console lines as columns: what the fetch worker hands the page (typed arrays move
// between threads without copying), and what the buffer appends.
import type { ConsolePage } from "../api";

export interface LineColumns {
  texts: string[];
  writerNames: string[];
  /** Index into writerNames, per line. */
  writerOf: Uint16Array;
  /** 1 stdout, 2 stderr. */
  streamOf: Uint8Array;
  timeOf: Float64Array;
  next: number;
}

export function toColumns(page: ConsolePage): LineColumns {
  const { lines } = page;
  const writerNames: string[] = [];
  const index = new Map<string, number>();
  const columns: LineColumns = {
    texts: new Array(lines.length),
    writerNames,
    writerOf: new Uint16Array(lines.length),
    streamOf: new Uint8Array(lines.length),
    timeOf: new Float64Array(lines.length),
    next: page.next,
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    let writer = index.get(line.writer);
    if (writer === undefined) {
      writer = writerNames.length;
      writerNames.push(line.writer);
      index.set(line.writer, writer);
    }
    columns.texts[i] = line.text;
    columns.writerOf[i] = writer;
    columns.streamOf[i] = line.stream === "stderr" ? 2 : 1;
    columns.timeOf[i] = line.time;
  }
  return columns;
}
