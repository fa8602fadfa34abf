// A scatter of a summary metric against a config key: a dot per run in its row's colour; runs
// outside the parallel coordinates' brushes stay, greyed, so the axes do not jump.
import type { Run } from "../api";
import { colour } from "../format";
import { useWidth } from "../hooks";
import type { Highlight } from "./highlight";
import type { Brush } from "./state";
import { type Scale, fieldValue, passesBrushes, scaleOf } from "./values";

const HEIGHT = 260;
const PAD = { left: 64, right: 16, top: 12, bottom: 36 };

interface Props {
  runs: Run[];
  colourOf: (id: string) => number;
  x: string;
  y: string;
  brushes: Brush[];
  highlight: Highlight;
  onIsolate: (id: string) => void;
}

function ticks(scale: Scale): { p: number; label: string }[] {
  if (!scale.numeric)
    return scale.categories.map((c, i, all) => ({
      p: all.length === 1 ? 0.5 : i / (all.length - 1),
      label: String(JSON.parse(c)),
    }));
  return [0, 0.25, 0.5, 0.75, 1].map((p) => ({ p, label: String(Number(scale.invert(p).toPrecision(3))) }));
}

export function Scatter({ runs, colourOf, x, y, brushes, highlight, onIsolate }: Props) {
  const [ref, width] = useWidth<HTMLDivElement>();
  const sx = scaleOf(x, runs);
  const sy = scaleOf(y, runs);
  const w = Math.max(0, width - PAD.left - PAD.right);
  const h = HEIGHT - PAD.top - PAD.bottom;
  const px = (p: number) => PAD.left + p * w;
  const py = (p: number) => PAD.top + (1 - p) * h;
  const dots = runs.flatMap((run) => {
    const a = sx.at(fieldValue(run, x));
    const b = sy.at(fieldValue(run, y));
    return a === null || b === null ? [] : [{ run, cx: px(a), cy: py(b), kept: passesBrushes(run, brushes) }];
  });
  return (
    <div class="ws-scatter" ref={ref} data-x={x} data-y={y} data-dots={dots.filter((d) => d.kept).length}>
      {width > 0 && x && y && (
        <svg width={width} height={HEIGHT}>
          <line class="sc-axis" x1={PAD.left} x2={PAD.left + w} y1={PAD.top + h} y2={PAD.top + h} />
          <line class="sc-axis" x1={PAD.left} x2={PAD.left} y1={PAD.top} y2={PAD.top + h} />
          {ticks(sx).map((t) => (
            <text class="sc-tick" x={px(t.p)} y={PAD.top + h + 16} text-anchor="middle">
              {t.label}
            </text>
          ))}
          {ticks(sy).map((t) => (
            <text class="sc-tick" x={PAD.left - 6} y={py(t.p) + 4} text-anchor="end">
              {t.label}
            </text>
          ))}
          <text class="sc-title" x={PAD.left + w / 2} y={HEIGHT - 4} text-anchor="middle">
            {x}
          </text>
          {dots.map(({ run, cx, cy, kept }) => (
            <circle
              class={kept ? "sc-dot" : "sc-dot dim"}
              data-run={run.id}
              cx={cx}
              cy={cy}
              r={5}
              fill={colour(colourOf(run.id))}
              onMouseEnter={() => highlight.set(run.id)}
              onMouseLeave={() => highlight.set(null)}
              onClick={() => onIsolate(run.id)}
            >
              <title>
                {run.name || run.id}: {x} {String(fieldValue(run, x))}, {y} {String(fieldValue(run, y))}
              </title>
            </circle>
          ))}
        </svg>
      )}
    </div>
  );
}
