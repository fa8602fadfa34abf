// Parallel coordinates over chosen config keys and one summary metric: a line per run in its
// row's colour. Dragging along an axis brushes a range; the brushes become filter clauses
// (`config.lr >= a and config.lr <= b`), so they filter the table and the charts. A click on an
// axis without a drag clears its brush.
import { useRef, useState } from "preact/hooks";
import type { Run } from "../api";
import { colour, formatNumber } from "../format";
import { useWidth } from "../hooks";
import type { Highlight } from "./highlight";
import type { Brush } from "./state";
import { type Scale, fieldValue, passesBrushes, scaleOf } from "./values";

const HEIGHT = 260;
const PAD_TOP = 28;
const PAD_BOTTOM = 22;
const PAD_X = 60;
/** How near an end of an axis (a fraction of it) a brush snaps to that end. */
const EDGE = 0.03;

interface Props {
  runs: Run[];
  colourOf: (id: string) => number;
  axes: string[];
  brushes: Brush[];
  onBrush: (brushes: Brush[]) => void;
  highlight: Highlight;
}

const plotHeight = HEIGHT - PAD_TOP - PAD_BOTTOM;
const yOf = (p: number) => PAD_TOP + (1 - p) * plotHeight;

function tickLabel(scale: Scale, p: number): string {
  if (scale.numeric) return formatNumber(scale.invert(p));
  const i = Math.round(p * (scale.categories.length - 1));
  return scale.categories[i] ? String(JSON.parse(scale.categories[i])) : "";
}

export function ParallelCoordinates({ runs, colourOf, axes, brushes, onBrush, highlight }: Props) {
  const [ref, width] = useWidth<HTMLDivElement>();
  const [drag, setDrag] = useState<{ axis: number; from: number; to: number } | null>(null);
  const svg = useRef<SVGSVGElement>(null);
  const scales = axes.map((axis) => scaleOf(axis, runs));
  const step = axes.length > 1 ? (width - 2 * PAD_X) / (axes.length - 1) : 0;
  const xOf = (i: number) => PAD_X + i * step;

  const toPosition = (event: MouseEvent) => {
    const box = svg.current!.getBoundingClientRect();
    return Math.min(1, Math.max(0, 1 - (event.clientY - box.top - PAD_TOP) / plotHeight));
  };
  const start = (axis: number) => (event: MouseEvent) => {
    if (!scales[axis].numeric) return;
    event.preventDefault();
    const p = toPosition(event);
    setDrag({ axis, from: p, to: p });
  };
  const move = (event: MouseEvent) => drag && setDrag({ ...drag, to: toPosition(event) });
  const end = () => {
    if (!drag) return;
    const scale = scales[drag.axis];
    const others = brushes.filter((b) => b.key !== scale.field);
    if (Math.abs(drag.to - drag.from) < 0.01) onBrush(others);
    else {
      const [lo, hi] = [Math.min(drag.from, drag.to), Math.max(drag.from, drag.to)];
      // A brush that reaches an end of the axis takes in its extreme value exactly.
      const low = lo <= EDGE ? scale.min : Number(scale.invert(lo).toPrecision(6));
      const high = hi >= 1 - EDGE ? scale.max : Number(scale.invert(hi).toPrecision(6));
      onBrush([...others, { key: scale.field, low, high }]);
    }
    setDrag(null);
  };

  const paths = runs.map((run) => {
    const points = scales.map((scale, i) => {
      const p = scale.at(fieldValue(run, scale.field));
      return p === null ? null : `${xOf(i).toFixed(1)},${yOf(p).toFixed(1)}`;
    });
    return { run, d: points.every((p) => p !== null) ? `M${points.join("L")}` : null };
  });

  return (
    <div class="ws-parallel" ref={ref} data-axes={axes.join(",")}>
      {width > 0 && axes.length > 0 && (
        <svg ref={svg} width={width} height={HEIGHT} onMouseMove={move} onMouseUp={end} onMouseLeave={end}>
          <g class="pc-lines">
            {paths.map(
              ({ run, d }) =>
                d && (
                  <path
                    d={d}
                    data-run={run.id}
                    class={passesBrushes(run, brushes) ? "pc-line" : "pc-line dim"}
                    stroke={colour(colourOf(run.id))}
                    onMouseEnter={() => highlight.set(run.id)}
                    onMouseLeave={() => highlight.set(null)}
                  >
                    <title>{run.name || run.id}</title>
                  </path>
                ),
            )}
          </g>
          {scales.map((scale, i) => {
            const brush = brushes.find((b) => b.key === scale.field);
            const live = drag?.axis === i ? [Math.min(drag.from, drag.to), Math.max(drag.from, drag.to)] : null;
            const shown = live ?? (brush ? [scale.at(brush.low) ?? 0, scale.at(brush.high) ?? 1] : null);
            return (
              <g class="pc-axis" data-axis={scale.field}>
                <line x1={xOf(i)} x2={xOf(i)} y1={PAD_TOP} y2={PAD_TOP + plotHeight} />
                <text x={xOf(i)} y={PAD_TOP - 12} text-anchor="middle" class="pc-title">
                  {scale.field}
                </text>
                {[0, 0.5, 1].map((p) => (
                  <text x={xOf(i) - 6} y={yOf(p) + 4} text-anchor="end" class="pc-tick">
                    {tickLabel(scale, p)}
                  </text>
                ))}
                {shown && (
                  <rect
                    class="pc-brush"
                    x={xOf(i) - 8}
                    width={16}
                    y={yOf(Math.min(1, shown[1]))}
                    height={Math.max(1, (shown[1] - shown[0]) * plotHeight)}
                  />
                )}
                <rect
                  class="pc-hit"
                  data-axis={scale.field}
                  x={xOf(i) - 14}
                  width={28}
                  y={PAD_TOP}
                  height={plotHeight}
                  onMouseDown={start(i)}
                />
              </g>
            );
          })}
        </svg>
      )}
      {axes.length === 0 && <div class="panel-note">Choose config keys for the axes.</div>}
    </div>
  );
}
