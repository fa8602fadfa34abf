// Histograms over steps as a heatmap (x: step, y: value, colour: count), drawn on a canvas as
// one ImageData cell per (step, value bin); hovering names the step, the logged bin under the
// pointer and its count.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ErrorBox } from "../components";
import { useWidth } from "../hooks";
import { type PanelProps, labelOrder, writerLabeller } from "./api";
import { useAllItems } from "./items";
import {
  type Heatmap,
  type StepHistogram,
  binAt,
  colourOf,
  formatEdge,
  rebin,
  stepHistograms,
  thin,
  ticks,
} from "./histogram";

const HEIGHT = 260;
const ROWS = 120;
/** Steps drawn at most (evenly spaced): more columns than a panel has pixels show nothing more. */
const MAX_COLUMNS = 1000;
const MARGIN = { left: 60, right: 10, top: 8, bottom: 24 };

interface Hover {
  x: number;
  y: number;
  text: string[];
  step: number;
  /** The logged bin under the pointer (-1: none) and its count. */
  bin: number;
  count: number | null;
}

function draw(canvas: HTMLCanvasElement, map: Heatmap, width: number, perStep: boolean): void {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(HEIGHT * ratio);
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, HEIGHT);
  const cols = map.steps.length;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;

  // One pixel per cell, scaled up without smoothing: a 1,000-step map is one drawImage.
  const image = new ImageData(cols, map.rows);
  for (let col = 0; col < cols; col++) {
    const scale = perStep ? map.columnMax[col] : map.max;
    for (let row = 0; row < map.rows; row++) {
      const value = map.cells[col * map.rows + row];
      const offset = ((map.rows - 1 - row) * cols + col) * 4;
      if (!(value > 0) || !(scale > 0)) continue; // transparent: the page shows through
      // A square root keeps the tails visible next to a tall peak.
      const [r, g, b] = colourOf(Math.sqrt(value / scale));
      image.data[offset] = r;
      image.data[offset + 1] = g;
      image.data[offset + 2] = b;
      image.data[offset + 3] = 255;
    }
  }
  const cells = document.createElement("canvas");
  cells.width = cols;
  cells.height = map.rows;
  cells.getContext("2d")!.putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(cells, MARGIN.left, MARGIN.top, plotW, plotH);
  canvas.dataset.drawn = String(cols);

  const style = getComputedStyle(canvas);
  ctx.fillStyle = style.getPropertyValue("--muted").trim() || "#6b7280";
  ctx.strokeStyle = style.getPropertyValue("--line").trim() || "#e3e5ea";
  ctx.font = "11px system-ui, sans-serif";
  ctx.strokeRect(MARGIN.left - 0.5, MARGIN.top - 0.5, plotW + 1, plotH + 1);
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const value of ticks(map.lo, map.hi, 6)) {
    const y = MARGIN.top + plotH * (1 - (value - map.lo) / (map.hi - map.lo));
    ctx.fillText(formatEdge(value), MARGIN.left - 6, y);
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  const first = map.steps[0];
  const last = map.steps[cols - 1];
  for (const value of ticks(first, last, Math.max(2, Math.floor(plotW / 90))).filter(Number.isInteger)) {
    // Columns are equal-width by position in the step list; label each tick at its step's column.
    let col = map.steps.findIndex((s) => s >= value);
    if (col < 0) col = cols - 1;
    const x = MARGIN.left + (plotW * (col + 0.5)) / cols;
    ctx.fillText(Math.round(value).toLocaleString(), x, HEIGHT - MARGIN.bottom + 6);
  }
}

function describe(h: StepHistogram, value: number): string[] {
  const lines = [`step ${h.step.toLocaleString()}`];
  const bin = binAt(h, value);
  if (bin < 0) lines.push(`${formatEdge(value)}: outside this step's bins`);
  else {
    const upper = bin === h.counts.length - 1 ? "]" : ")";
    lines.push(`[${formatEdge(h.edges[bin])}, ${formatEdge(h.edges[bin + 1])}${upper}`);
    lines.push(`count ${h.counts[bin].toLocaleString()}`);
  }
  const extra = [h.nan && `NaN ${h.nan}`, h.posinf && `+inf ${h.posinf}`, h.neginf && `-inf ${h.neginf}`].filter(
    Boolean,
  );
  if (extra.length) lines.push(extra.join(" · "));
  return lines;
}

export function HistogramPanel({ project, run, mediaKey, writers, live = false, count = 0 }: PanelProps) {
  const items = useAllItems(project, run, mediaKey, { live, count });
  const label = writerLabeller(writers);
  // One heatmap per series: a writer, and the position in a list logged under the key.
  const series = useMemo(() => {
    const seen = new Map<string, { writer: string; index: number }>();
    for (const item of items.data ?? []) seen.set(`${item.writer}/${item.index}`, item);
    return [...seen.entries()].sort(
      ([, a], [, b]) => labelOrder(label(a.writer), label(b.writer)) || a.index - b.index,
    );
  }, [items.data]);
  const [chosen, setChosen] = useState<string | null>(null);
  const shown = series.find(([name]) => name === chosen)?.[0] ?? series[0]?.[0] ?? null;
  const all = useMemo(
    () => stepHistograms((items.data ?? []).filter((i) => `${i.writer}/${i.index}` === shown)),
    [items.data, shown],
  );
  const histograms = useMemo(() => thin(all, MAX_COLUMNS), [all]);
  const map = useMemo(() => rebin(histograms, ROWS), [histograms]);
  const [perStep, setPerStep] = useState(false);
  const [box, width] = useWidth<HTMLDivElement>();
  const canvas = useRef<HTMLCanvasElement>(null);
  const [hover, setHover] = useState<Hover | null>(null);

  useEffect(() => {
    if (canvas.current && map && width > MARGIN.left + MARGIN.right) draw(canvas.current, map, width, perStep);
  }, [map, width, perStep]);

  const onMove = (event: MouseEvent) => {
    if (!map) return;
    const rect = (event.currentTarget as HTMLCanvasElement).getBoundingClientRect();
    const x = event.clientX - rect.left;
    const y = event.clientY - rect.top;
    const plotW = width - MARGIN.left - MARGIN.right;
    const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
    if (x < MARGIN.left || x > MARGIN.left + plotW || y < MARGIN.top || y > MARGIN.top + plotH) {
      setHover(null);
      return;
    }
    const col = Math.min(map.steps.length - 1, Math.floor(((x - MARGIN.left) / plotW) * map.steps.length));
    const value = map.hi - ((y - MARGIN.top) / plotH) * (map.hi - map.lo);
    const h = histograms[col];
    const bin = binAt(h, value);
    setHover({ x, y, text: describe(h, value), step: h.step, bin, count: bin < 0 ? null : h.counts[bin] });
  };

  return (
    <section class="media-panel histogram-panel" data-key={mediaKey} data-kind="histogram">
      <div class="panel-head">
        <span class="panel-title" title={mediaKey}>
          {mediaKey}
        </span>
        {series.length > 1 && (
          <select
            aria-label="series"
            value={shown ?? ""}
            onChange={(e) => setChosen((e.target as HTMLSelectElement).value)}
          >
            {series.map(([name, s]) => (
              <option value={name}>
                {label(s.writer)}
                {s.index ? ` #${s.index}` : ""}
              </option>
            ))}
          </select>
        )}
        <label class="check small" title="colour each step by its own largest bin">
          <input type="checkbox" checked={perStep} onChange={() => setPerStep(!perStep)} /> per step
        </label>
      </div>
      {items.error && <ErrorBox error={items.error} what={`the histograms of ${mediaKey}`} retry={items.reload} />}
      <div class="heatmap" ref={box} data-steps={all.length}>
        {!items.data && !items.error && <div class="panel-note">Loading histograms…</div>}
        {items.data && !map && <div class="panel-note">No histogram with finite values.</div>}
        {map && (
          <canvas
            ref={canvas}
            style={{ width: `${width}px`, height: `${HEIGHT}px` }}
            onMouseMove={onMove}
            onMouseLeave={() => setHover(null)}
          />
        )}
        {hover && (
          <div
            class="heatmap-tip"
            role="tooltip"
            data-step={hover.step}
            data-bin={hover.bin}
            data-count={hover.count ?? ""}
            style={{
              left: `${Math.min(hover.x + 12, Math.max(0, width - 190))}px`,
              top: `${Math.max(0, hover.y - 60)}px`,
            }}
          >
            {hover.text.map((line) => (
              <div>{line}</div>
            ))}
          </div>
        )}
      </div>
    </section>
  );
}
