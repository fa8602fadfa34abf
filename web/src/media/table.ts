// A logged table as numbers and text: which rows pass the filter, in which order. Works on row
// indices, so 100,000 rows are filtered and sorted without copying them.
import type { Json } from "../api";
import { type TableBlob, isImageCell } from "./api";

export interface Sort {
  column: number;
  descending: boolean;
}

/** A cell as the filter and the sort see it: an image by its caption. */
export function cellText(cell: Json): string {
  if (cell === null || cell === undefined) return "";
  if (typeof cell === "object") {
    if (isImageCell(cell)) return cell.caption ?? "";
    return JSON.stringify(cell);
  }
  return String(cell);
}

/** Whether every column holds numbers (or nothing): such columns sort and align as numbers. */
export function numericColumns(table: TableBlob): boolean[] {
  return table.columns.map((_, c) => table.data.every((row) => row[c] === null || typeof row[c] === "number"));
}

export function imageColumns(table: TableBlob): boolean[] {
  return table.columns.map((_, c) => table.data.some((row) => isImageCell(row[c])));
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

/** Rows (by index) that contain `filter` in any cell, case-insensitively, in `sort`'s order;
 * empty cells last either way, ties in logged order. */
export function visibleRows(table: TableBlob, filter: string, sort: Sort | null, lowered: () => string[]): number[] {
  let rows: number[];
  const needle = filter.trim().toLowerCase();
  if (needle) {
    const texts = lowered();
    rows = [];
    for (let i = 0; i < texts.length; i++) if (texts[i].includes(needle)) rows.push(i);
  } else {
    rows = Array.from({ length: table.data.length }, (_, i) => i);
  }
  if (sort) {
    const c = sort.column;
    const sign = sort.descending ? -1 : 1;
    const numeric = table.data.every((row) => row[c] === null || typeof row[c] === "number");
    const keys = table.data.map((row) => (numeric ? row[c] : cellText(row[c])));
    rows.sort((a, b) => {
      const x = keys[a];
      const y = keys[b];
      const xEmpty = x === null || x === "";
      const yEmpty = y === null || y === "";
      if (xEmpty || yEmpty) return xEmpty === yEmpty ? a - b : xEmpty ? 1 : -1;
      const order = numeric ? (x as number) - (y as number) : collator.compare(x as string, y as string);
      return order ? sign * order : a - b;
    });
  }
  return rows;
}

/** Every row's text, lower-cased, for the filter (built once per table, when first filtered). */
export function loweredRows(table: TableBlob): string[] {
  return table.data.map((row) => row.map(cellText).join("\u0000").toLowerCase());
}

/** The rows a scrolled view shows: [first, last), with `overscan` rows either side. */
export function rowWindow(
  scrollTop: number,
  viewHeight: number,
  rowHeight: number,
  total: number,
  overscan = 8,
): [number, number] {
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(total, Math.ceil((scrollTop + viewHeight) / rowHeight) + overscan);
  return [first, Math.max(first, last)];
}
