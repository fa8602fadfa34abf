// One uPlot chart of many lines (a line per run, or per group with a band around it). The
// legend would hold a thousand entries: a tooltip names the line nearest the pointer instead.
// Hovering focuses a line (and tells the Highlight, so the table marks its row); a row hovered
// in the table focuses its line here; a click isolates the focused line.
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { smooth } from "../charts/LineChart";
import { formatNumber } from "../format";
import type { Highlight } from "./highlight";

export interface ChartLine {
  /** A run id, or a group label. */
  id: string;
  label: string;
  colour: string;
  x: number[];
  y: (number | null)[];
  low?: (number | null)[];
  high?: (number | null)[];
  /** How many runs make each point (groups). */
  n?: number[];
}

interface Props {
  lines: ChartLine[];
  width: number;
  height: number;
  smoothing: number;
  logY: boolean;
  highlight: Highlight;
  onIsolate: (id: string) => void;
}

interface Hover {
  label: string;
  value: string;
  step: number;
  runs: number | null;
  left: number;
  top: number;
}

function sorted(line: ChartLine): ChartLine {
  for (let i = 1; i < line.x.length; i++) {
    if (line.x[i - 1] > line.x[i]) {
      const order = line.x.map((_, j) => j).sort((a, b) => line.x[a] - line.x[b]);
      const pick = <T,>(values: T[] | undefined) => values && order.map((j) => values[j]);
      return {
        ...line,
        x: pick(line.x)!,
        y: pick(line.y)!,
        low: pick(line.low),
        high: pick(line.high),
        n: pick(line.n),
      };
    }
  }
  return line;
}

/** Series columns: per line its values, then (banded lines) its low and high edges. */
function columns(lines: ChartLine[]): { data: uPlot.AlignedData; owners: number[] } {
  const tables: uPlot.AlignedData[] = [];
  const owners: number[] = [];
  lines.map(sorted).forEach((line, index) => {
    tables.push([line.x, line.y] as uPlot.AlignedData);
    owners.push(index);
    if (line.low && line.high) {
      tables.push([line.x, line.low] as uPlot.AlignedData, [line.x, line.high] as uPlot.AlignedData);
      owners.push(index, index);
    }
  });
  return { data: sameX(tables) ? [tables[0][0], ...tables.map((t) => t[1])] : uPlot.join(tables), owners };
}

/** Whether every series has the same x values (runs logged at the same steps, a group's
 * lines and band): then the columns need no join, which costs most with a thousand runs. */
function sameX(tables: uPlot.AlignedData[]): boolean {
  const x = tables[0][0];
  return tables.every((t) => t[0] === x || (t[0].length === x.length && t[0].every((v, i) => v === x[i])));
}

function prepared(data: uPlot.AlignedData, logY: boolean, smoothing: number): uPlot.AlignedData {
  const ys = data.slice(1).map((column) => {
    const finite = (column as (number | null | undefined)[]).map((v) =>
      v == null || !isFinite(v) || (logY && v <= 0) ? null : v,
    );
    return smooth(finite, smoothing);
  });
  return [data[0], ...ys] as uPlot.AlignedData;
}

function transparent(colour: string, alpha: number): string {
  return `color-mix(in srgb, ${colour} ${Math.round(alpha * 100)}%, transparent)`;
}

export function ManyLines({ lines, width, height, smoothing, logY, highlight, onIsolate }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const [hover, setHover] = useState<Hover | null>(null);
  const latest = useRef({ lines, onIsolate });
  latest.current = { lines, onIsolate };

  useEffect(() => {
    const element = host.current;
    if (!element || width <= 0 || lines.length === 0) return;
    const { data, owners } = columns(lines);
    const seriesOf = new Map<string, number>();
    const bands: uPlot.Band[] = [];
    const series: uPlot.Series[] = [{ label: "step" }];
    owners.forEach((owner, s) => {
      const line = lines[owner];
      const edge = s > 0 && owners[s - 1] === owner;
      if (!edge) seriesOf.set(line.id, s + 1);
      else if (owners[s - 2] === owner) bands.push({ series: [s + 1, s], fill: transparent(line.colour, 0.15) });
      series.push({
        label: line.label,
        stroke: edge ? transparent(line.colour, 0.35) : line.colour,
        width: edge ? 0.5 : lines.length > 200 ? 1 : 1.5,
        spanGaps: true,
        points: { show: false },
      });
    });
    let focused: number | null = null;
    const stamp = () => {
      const now = String(performance.now());
      element.dataset.drawn = now;
      element.dataset.firstDrawn ??= now; // for tests and bench/ui_bench.py
    };
    const opts: uPlot.Options = {
      width,
      height,
      series,
      bands,
      scales: { x: { time: false }, y: { distr: logY ? 3 : 1 } },
      legend: { show: false },
      focus: { alpha: 0.25 },
      cursor: {
        focus: { prox: 24 },
        drag: { x: true, y: false, setScale: true },
        points: { show: false },
      },
      axes: [{}, { size: 56, values: (_: uPlot, ticks: number[]) => ticks.map((t) => formatNumber(t)) }],
      hooks: {
        draw: [stamp],
        setSeries: [
          (u, index) => {
            // Band edges focus their line.
            const owner = index == null || index === 0 ? null : owners[index - 1];
            focused = owner;
            const id = owner === null ? null : latest.current.lines[owner].id;
            element.dataset.focused = id ?? "";
            highlight.set(id);
            showHover(u);
          },
        ],
        setCursor: [(u) => showHover(u)],
      },
    };
    const showHover = (u: uPlot) => {
      const idx = u.cursor.idx;
      if (focused === null || idx == null || u.cursor.left == null || u.cursor.left < 0) {
        setHover(null);
        return;
      }
      const line = latest.current.lines[focused];
      const s = seriesOf.get(line.id)!;
      const value = u.data[s][idx];
      const x = u.data[0][idx];
      const at = line.x.indexOf(x);
      setHover({
        label: line.label,
        value: value == null ? "—" : formatNumber(value),
        step: x,
        runs: line.n ? (line.n[at] ?? null) : null,
        left: u.cursor.left + 12,
        top: Math.max(0, (u.cursor.top ?? 0) - 8),
      });
    };
    const u = new uPlot(opts, prepared(data, logY, smoothing), element);
    const unsubscribe = highlight.subscribe((id) => {
      const s = id === null ? undefined : seriesOf.get(id);
      const owner = s === undefined ? null : owners[s - 1];
      if (owner === focused) return;
      focused = owner;
      u.setSeries(s ?? null, { focus: s !== undefined }, false);
      element.dataset.focused = s === undefined ? "" : (id ?? ""); // for tests
    });
    const click = () => {
      if (focused !== null && u.select.width < 2) latest.current.onIsolate(latest.current.lines[focused].id);
    };
    const leave = () => {
      setHover(null);
      highlight.set(null);
    };
    u.over.addEventListener("click", click);
    u.over.addEventListener("mouseleave", leave);
    element.dataset.lines = String(lines.length);
    return () => {
      unsubscribe();
      u.over.removeEventListener("click", click);
      u.over.removeEventListener("mouseleave", leave);
      u.destroy();
    };
  }, [lines, width, height, smoothing, logY]);

  return (
    <div class="chart many-lines" ref={host} data-lines={lines.length}>
      {hover && (
        <div class="chart-hover" style={{ left: `${hover.left}px`, top: `${hover.top}px` }} data-label={hover.label}>
          <strong>{hover.label}</strong> {hover.value} <span class="muted">step {hover.step}</span>
          {hover.runs !== null && <span class="muted"> · {hover.runs} runs</span>}
        </div>
      )}
    </div>
  );
}
