// Histograms over steps, as numbers: each step's bins (their edges differ from step to step)
// spread onto one common grid of value bins, so that a heatmap can show step × value × count.

import type { HistogramMeta, MediaItem } from "./api";

export interface StepHistogram {
  step: number;
  counts: number[];
  edges: number[];
  /** Values that fell into no bin: NaN, +inf, -inf. */
  nan: number;
  posinf: number;
  neginf: number;
}

export interface Heatmap {
  steps: number[];
  /** The common value grid: `rows + 1` edges, lowest first. */
  lo: number;
  hi: number;
  rows: number;
  /** cells[col * rows + row]: the (fractional) count of step `col` in value bin `row`. */
  cells: Float64Array;
  max: number;
  /** Each column's largest cell, for colouring per step. */
  columnMax: Float64Array;
}

/** The histograms of one writer, by step (items of other writers are left out). */
export function stepHistograms(items: MediaItem[]): StepHistogram[] {
  return items
    .map((item) => {
      const meta = item.meta as unknown as HistogramMeta;
      return {
        step: item.step,
        counts: meta.counts ?? [],
        edges: meta.edges ?? [],
        nan: meta.nan ?? 0,
        posinf: meta.posinf ?? 0,
        neginf: meta.neginf ?? 0,
      };
    })
    .filter((h) => h.edges.length === h.counts.length + 1 && h.counts.length > 0)
    .sort((a, b) => a.step - b.step);
}

/** At most `limit` of the histograms, evenly spaced over the steps, the first and the last
 * kept: a heatmap has no use for more columns than pixels. */
export function thin(histograms: StepHistogram[], limit: number): StepHistogram[] {
  if (histograms.length <= limit) return histograms;
  const last = histograms.length - 1;
  return Array.from({ length: limit }, (_, i) => histograms[Math.round((i * last) / (limit - 1))]);
}

/** Spread every step's bins onto `rows` equal bins between the smallest and largest edge, in
 * proportion to the overlap (a bin counted as uniform inside itself). */
export function rebin(histograms: StepHistogram[], rows: number): Heatmap | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const h of histograms) {
    const first = h.edges[0];
    const last = h.edges[h.edges.length - 1];
    if (Number.isFinite(first) && first < lo) lo = first;
    if (Number.isFinite(last) && last > hi) hi = last;
  }
  if (!(lo <= hi)) return null;
  if (lo === hi) {
    // Every value the same: a unit-wide band around it.
    lo -= 0.5;
    hi += 0.5;
  }
  const width = (hi - lo) / rows;
  const cells = new Float64Array(histograms.length * rows);
  const columnMax = new Float64Array(histograms.length);
  let max = 0;
  histograms.forEach((h, col) => {
    const base = col * rows;
    for (let b = 0; b < h.counts.length; b++) {
      const count = h.counts[b];
      if (!count) continue;
      const a = h.edges[b];
      const z = h.edges[b + 1];
      if (!(z >= a)) continue;
      if (z === a) {
        // A zero-width bin (all its values equal): all of it in the row that holds the value.
        const row = Math.min(rows - 1, Math.max(0, Math.floor((a - lo) / width)));
        cells[base + row] += count;
        continue;
      }
      const first = Math.max(0, Math.floor((a - lo) / width));
      const last = Math.min(rows - 1, Math.floor((z - lo) / width));
      for (let row = first; row <= last; row++) {
        const r0 = lo + row * width;
        const overlap = Math.min(z, r0 + width) - Math.max(a, r0);
        if (overlap > 0) cells[base + row] += (count * overlap) / (z - a);
      }
    }
    for (let row = 0; row < rows; row++) {
      const value = cells[base + row];
      if (value > columnMax[col]) columnMax[col] = value;
    }
    if (columnMax[col] > max) max = columnMax[col];
  });
  return { steps: histograms.map((h) => h.step), lo, hi, rows, cells, max, columnMax };
}

/** The original bin of `h` that holds `value`: its index, or -1 outside the histogram. */
export function binAt(h: StepHistogram, value: number): number {
  const edges = h.edges;
  if (!(value >= edges[0] && value <= edges[edges.length - 1])) return -1;
  let a = 0;
  let z = edges.length - 1;
  while (z - a > 1) {
    const mid = (a + z) >> 1;
    if (edges[mid] <= value) a = mid;
    else z = mid;
  }
  return a;
}

// Viridis, sampled at eight stops: readable on light and dark pages, and in grey.
const VIRIDIS = [
  [68, 1, 84],
  [70, 50, 127],
  [54, 92, 141],
  [39, 127, 142],
  [31, 161, 135],
  [74, 194, 109],
  [159, 218, 58],
  [253, 231, 37],
];

/** RGB of `t` in [0, 1] on the colour map. */
export function colourOf(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const [a, b] = [VIRIDIS[i], VIRIDIS[i + 1]];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

/** About `count` round tick values between lo and hi. */
export function ticks(lo: number, hi: number, count: number): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

/** A bin edge or a count, short: 0.0123, 1.5e-7, 12,345. */
export function formatEdge(value: number): string {
  if (value === 0) return "0";
  const abs = Math.abs(value);
  if (abs >= 1e5 || abs < 1e-3) return value.toExponential(2);
  return Number(value.toPrecision(4)).toString();
}
