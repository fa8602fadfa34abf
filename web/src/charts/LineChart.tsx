// One uPlot chart: lines (one per writer or per run), smoothing, log scale, drag-to-zoom.
// uPlot draws; this component only turns series into uPlot's aligned columns and options.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { colour, formatDuration, formatNumber } from "../format";

export type XMode = "step" | "relative" | "wall";

export interface Line {
  label: string;
  x: number[];
  y: (number | null)[];
  /** A palette index other than the line's position (lines of one device share a colour). */
  colour?: number;
  /** uPlot's dash pattern: a limit or a capacity (dashed), a part of a measure (dotted). */
  dash?: number[];
}

export type Range = [number, number];

export interface ChartProps {
  lines: Line[];
  width: number;
  height?: number;
  xMode: XMode;
  logY: boolean;
  smoothing: number;
  zoom: Range | null;
  onZoom?: (range: Range | null) => void;
  syncKey?: string;
  /** How a y value reads (axis and legend): bytes, percent... Plain numbers without it. */
  format?: (value: number) => string;
}

/** TensorBoard's debiased exponential moving average; gaps stay gaps. */
export function smooth(values: (number | null | undefined)[], weight: number) {
  if (weight <= 0) return values;
  const out: (number | null | undefined)[] = new Array(values.length);
  let last = 0;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v == null || !isFinite(v)) {
      out[i] = v;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    count++;
    out[i] = last / (1 - Math.pow(weight, count));
  }
  return out;
}

function sortedByX(line: Line): Line {
  const { x } = line;
  let sorted = true;
  for (let i = 1; i < x.length && sorted; i++) sorted = x[i - 1] <= x[i];
  if (sorted) return line;
  const order = x.map((_, i) => i).sort((a, b) => x[a] - x[b]);
  return { ...line, x: order.map((i) => x[i]), y: order.map((i) => line.y[i]) };
}

function aligned(lines: Line[], logY: boolean, smoothing: number): uPlot.AlignedData {
  const tables = lines.map(sortedByX);
  const joined: (number | null | undefined)[][] =
    tables.length === 1
      ? [tables[0].x, tables[0].y]
      : (uPlot.join(tables.map((t) => [t.x, t.y] as uPlot.AlignedData)) as (number | null | undefined)[][]);
  const columns = joined.slice(1).map((column) => {
    const finite = column.map((v) => (v == null || !isFinite(v) || (logY && v <= 0) ? null : v));
    return smooth(finite, smoothing);
  });
  return [joined[0] as number[], ...columns] as uPlot.AlignedData;
}

const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 2 });

function yTick(value: number): string {
  const abs = Math.abs(value);
  if (abs === 0) return "0";
  if (abs >= 1e4) return compact.format(value);
  if (abs < 1e-3) return value.toExponential(1);
  return String(Number(value.toPrecision(4)));
}

function themeColour(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

/** With the cursor away, the legend shows each line's latest value rather than dashes. */
function showLatest(u: uPlot): void {
  if (u.cursor.idx != null) return;
  const idxs = u.data.map((column, s) => {
    if (s === 0) return column.length ? column.length - 1 : null;
    for (let i = column.length - 1; i >= 0; i--) if (column[i] != null) return i;
    return null;
  });
  u.setLegend({ idxs }, false);
}

function options(props: ChartProps, element: HTMLElement): uPlot.Options {
  const axisStroke = themeColour("--muted", "#667");
  const gridStroke = themeColour("--grid", "#e8e8ee");
  const axis = { stroke: axisStroke, grid: { stroke: gridStroke, width: 1 }, ticks: { stroke: gridStroke } };
  const xLabel = props.xMode === "step" ? "step" : "time";
  const xValue = (_: uPlot, v: number | null) => {
    if (v == null) return "—";
    if (props.xMode === "relative") return formatDuration(v);
    if (props.xMode === "wall") return new Date(v * 1000).toLocaleString();
    return String(v);
  };
  return {
    width: props.width,
    height: props.height ?? 200,
    scales: {
      x: { time: props.xMode === "wall" },
      y: { distr: props.logY ? 3 : 1 },
    },
    series: [
      { label: xLabel, value: xValue },
      ...props.lines.map((line, index) => ({
        label: line.label,
        stroke: colour(line.colour ?? index),
        width: 1.5,
        dash: line.dash,
        spanGaps: true,
        points: { show: false },
        value: (_: uPlot, v: number | null) => (v == null ? "—" : (props.format ?? formatNumber)(v)),
      })),
    ],
    axes: [
      {
        ...axis,
        values:
          props.xMode === "relative"
            ? (_: uPlot, ticks: number[]) => ticks.map((t) => formatDuration(t))
            : props.xMode === "step"
              ? (_: uPlot, ticks: number[]) => ticks.map((t) => (Math.abs(t) >= 1e4 ? compact.format(t) : String(t)))
              : undefined,
      },
      {
        ...axis,
        size: props.format ? 84 : 52,
        values: (_: uPlot, ticks: number[]) => ticks.map(props.format ?? yTick),
      },
    ],
    cursor: {
      drag: { x: true, y: false, setScale: true },
      sync: props.syncKey ? { key: props.syncKey } : undefined,
    },
    legend: { live: true },
    hooks: {
      ready: [showLatest],
      setData: [showLatest],
      setCursor: [showLatest],
      draw: [
        (u) => {
          const now = String(performance.now());
          element.dataset.drawn = now;
          element.dataset.firstDrawn ??= now; // for tests and bench/ui_bench.py
          element.dataset.points = String(u.data[0].length);
        },
      ],
      setSelect: [
        (u) => {
          if (u.select.width < 2) return;
          const min = u.posToVal(u.select.left, "x");
          const max = u.posToVal(u.select.left + u.select.width, "x");
          props.onZoom?.([min, max]);
        },
      ],
    },
  };
}

export function LineChart(props: ChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const drawn = useRef<unknown[]>([]);
  const propsRef = useRef(props);
  propsRef.current = props;
  const shape = `${props.xMode}|${props.logY}|${props.syncKey}|${props.lines.map((l) => l.label).join("\u0000")}`;

  useEffect(() => {
    const element = host.current;
    if (!element || props.width <= 0) return;
    const data = aligned(props.lines, props.logY, props.smoothing);
    // Handlers read the latest props through the ref, so the chart is rebuilt only on shape changes.
    const opts = options({ ...props, onZoom: (range) => propsRef.current.onZoom?.(range) }, element);
    const u = new uPlot(opts, data, element);
    plot.current = u;
    drawn.current = [props.lines, props.smoothing, props.zoom];
    if (props.zoom) u.setScale("x", { min: props.zoom[0], max: props.zoom[1] });
    const reset = () => propsRef.current.onZoom?.(null);
    u.over.addEventListener("dblclick", reset);
    return () => {
      u.over.removeEventListener("dblclick", reset);
      u.destroy();
      plot.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape, props.width > 0]);

  useEffect(() => {
    const u = plot.current;
    const inputs = [props.lines, props.smoothing, props.zoom];
    if (!u || inputs.every((v, i) => v === drawn.current[i])) return;
    drawn.current = inputs;
    u.setData(aligned(props.lines, props.logY, props.smoothing));
    if (props.zoom) u.setScale("x", { min: props.zoom[0], max: props.zoom[1] });
  }, [props.lines, props.smoothing, props.zoom]);

  useEffect(() => {
    const u = plot.current;
    if (u && props.width > 0 && u.width !== props.width) u.setSize({ width: props.width, height: props.height ?? 200 });
  }, [props.width, props.height]);

  return <div class="chart" ref={host} data-series-count={props.lines.length} />;
}
