// The workspace below the table: its toolbar (which panels, smoothing, log scale, chart width,
// and, grouped, the aggregate and band), the charts grid, parallel coordinates and the scatter.
import { Component, type ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import type { Run } from "../api";
import type { ApiError } from "../api";
import { type Agg, type Band, type RunLines } from "./api";
import { MAX_CHART_KEYS, WorkspaceCharts } from "./Charts";
import type { Highlight } from "./highlight";
import { ParallelCoordinates } from "./Parallel";
import { Scatter } from "./Scatter";
import { PANELS, type Panel, type Workspace, brushText } from "./state";
import { metricKeys, passesBrushes } from "./values";

interface Props {
  project: string;
  ws: Workspace;
  /** The runs the user's filter passes (brushes not applied), in the table's order. */
  runs: Run[];
  total: number;
  /** Not grouped: the charts' lines of these runs (null while they load). */
  lines: RunLines | null;
  linesError: ApiError | null;
  /** The filter with the brushes' clauses: what the groups are made of. */
  filter: string;
  configKeys: string[];
  summaryKeys: string[];
  colourOf: (id: string) => number;
  groupColour: (label: string) => number | undefined;
  highlight: Highlight;
  isolated: string | null;
  onIsolate: (id: string | null) => void;
  setQuery: (changes: Record<string, string | null>) => void;
}

const PANEL_NAMES: Record<Panel, string> = { charts: "charts", parallel: "parallel coordinates", scatter: "scatter" };

function KeyChecklist({
  label,
  keys,
  chosen,
  onChange,
}: {
  label: string;
  keys: string[];
  chosen: string[];
  onChange: (c: string[]) => void;
}) {
  return (
    <details class="picker">
      <summary>{label}</summary>
      <div class="picker-menu">
        <div class="picker-list">
          {keys.map((key) => (
            <label class="check" key={key}>
              <input
                type="checkbox"
                checked={chosen.includes(key)}
                onChange={() => onChange(chosen.includes(key) ? chosen.filter((c) => c !== key) : [...chosen, key])}
              />
              {key}
            </label>
          ))}
        </div>
      </div>
    </details>
  );
}

function KeySelect({
  label,
  keys,
  value,
  onChange,
}: {
  label: string;
  keys: string[];
  value: string;
  onChange: (v: string) => void;
}) {
  return (
    <label>
      {label}{" "}
      <select aria-label={label} value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        {keys.map((key) => (
          <option value={key}>{key}</option>
        ))}
      </select>
    </label>
  );
}

export function WorkspacePanels(props: Props) {
  const { ws, runs, setQuery, highlight } = props;
  const [logY, setLogY] = useState(false);
  const brushed = ws.brush.length ? runs.filter((run) => passesBrushes(run, ws.brush)) : runs;
  const numericConfig = props.configKeys.filter((k) => runs.some((r) => typeof r.config[k.slice(7)] === "number"));
  const summaryChoices = props.summaryKeys.filter((k) => runs.some((r) => typeof r.summary[k.slice(8)] === "number"));
  const pcAxes = ws.pc.length ? ws.pc : numericConfig.slice(0, 5);
  const pcMetric = ws.pcm || summaryChoices[0] || "";
  const sx = ws.sx || props.configKeys[0] || "";
  const sy = ws.sy || summaryChoices[0] || "";
  const chartRuns = brushed.map((run) => ({ id: run.id, label: run.name || run.id, colour: props.colourOf(run.id) }));
  // The metrics the runs logged (the server's choice, with their lines); grouped, the numeric
  // summary keys stand in for them.
  const keys = props.lines?.keys ?? metricKeys(runs, MAX_CHART_KEYS);
  const togglePanel = (panel: Panel) => {
    const next = ws.panels.includes(panel)
      ? ws.panels.filter((p) => p !== panel)
      : PANELS.filter((p) => p === panel || ws.panels.includes(p));
    setQuery({ panels: next.join(",") === "charts" ? null : next.join(",") || "none" });
  };

  return (
    <section class="workspace" data-runs={runs.length}>
      <div class="toolbar ws-toolbar">
        {PANELS.map((panel) => (
          <label class="check">
            <input
              type="checkbox"
              aria-label={`show ${PANEL_NAMES[panel]}`}
              checked={ws.panels.includes(panel)}
              onChange={() => togglePanel(panel)}
            />
            {PANEL_NAMES[panel]}
          </label>
        ))}
        <span class="divider" />
        <span class="muted">x: step</span>
        <label class="smoothing">
          smoothing
          <input
            type="range"
            aria-label="smoothing"
            min="0"
            max="0.99"
            step="0.01"
            value={ws.smooth}
            onInput={(e) =>
              setQuery({
                smooth: Number((e.target as HTMLInputElement).value) ? (e.target as HTMLInputElement).value : null,
              })
            }
          />
          <span class="num">{ws.smooth.toFixed(2)}</span>
        </label>
        <label class="check">
          <input
            type="checkbox"
            aria-label="log scale"
            checked={logY}
            onChange={(e) => setLogY((e.target as HTMLInputElement).checked)}
          />
          log y
        </label>
        <label>
          chart width
          <input
            type="range"
            aria-label="chart width"
            min="240"
            max="1200"
            step="20"
            value={ws.size}
            onInput={(e) => setQuery({ size: (e.target as HTMLInputElement).value })}
          />
        </label>
        {ws.group.length > 0 && (
          <>
            <label>
              line{" "}
              <select
                aria-label="aggregate"
                value={ws.agg}
                onChange={(e) => setQuery({ agg: (e.target as HTMLSelectElement).value as Agg })}
              >
                <option value="mean">mean</option>
                <option value="median">median</option>
                <option value="min">min</option>
                <option value="max">max</option>
              </select>
            </label>
            <label>
              band{" "}
              <select
                aria-label="band"
                value={ws.band}
                onChange={(e) => setQuery({ band: (e.target as HTMLSelectElement).value as Band })}
              >
                <option value="minmax">min–max</option>
                <option value="std">± std</option>
                <option value="none">none</option>
              </select>
            </label>
          </>
        )}
        {props.isolated && (
          <button class="filter-chip" onClick={() => props.onIsolate(null)} title="show every run again">
            only {runs.find((r) => r.id === props.isolated)?.name ?? props.isolated} ×
          </button>
        )}
        {props.total > runs.length && ws.group.length === 0 && (
          <span class="muted">
            charting the first {runs.length.toLocaleString()} of {props.total.toLocaleString()} runs (group them to see
            all)
          </span>
        )}
      </div>

      {ws.panels.includes("parallel") && (
        <div class="panel ws-panel" data-panel="parallel">
          <div class="panel-head">
            <span class="panel-title">parallel coordinates</span>
            <KeyChecklist
              label="axes"
              keys={props.configKeys}
              chosen={pcAxes}
              onChange={(c) => setQuery({ pc: c.join(",") || null })}
            />
            <KeySelect label="metric" keys={summaryChoices} value={pcMetric} onChange={(v) => setQuery({ pcm: v })} />
            {ws.brush.length > 0 && (
              <button class="link small" onClick={() => setQuery({ brush: null })}>
                clear brushes
              </button>
            )}
          </div>
          <ParallelCoordinates
            runs={runs}
            colourOf={props.colourOf}
            axes={pcMetric ? [...pcAxes, pcMetric] : pcAxes}
            brushes={ws.brush}
            onBrush={(brushes) => setQuery({ brush: brushText(brushes) })}
            highlight={highlight}
          />
        </div>
      )}

      {ws.panels.includes("scatter") && (
        <div class="panel ws-panel" data-panel="scatter">
          <div class="panel-head">
            <span class="panel-title">scatter</span>
            <KeySelect label="scatter y" keys={summaryChoices} value={sy} onChange={(v) => setQuery({ sy: v })} />
            <KeySelect label="scatter x" keys={props.configKeys} value={sx} onChange={(v) => setQuery({ sx: v })} />
          </div>
          <Scatter
            runs={runs}
            brushes={ws.brush}
            colourOf={props.colourOf}
            x={sx}
            y={sy}
            highlight={highlight}
            onIsolate={(id) => props.onIsolate(id)}
          />
        </div>
      )}

      {ws.panels.includes("charts") && (
        <WorkspaceCharts
          project={props.project}
          runs={chartRuns}
          keys={keys}
          lines={props.lines}
          linesError={props.linesError}
          filter={props.filter}
          group={ws.group}
          agg={ws.agg}
          band={ws.band}
          smoothing={ws.smooth}
          logY={logY}
          size={ws.size}
          highlight={highlight}
          isolated={props.isolated}
          onIsolate={props.onIsolate}
          groupColour={props.groupColour}
        />
      )}
    </section>
  );
}

/** Renders its children again only when one of `deps` changed: the table re-renders on every
 * scroll, and a thousand runs' SVG paths need not be diffed each time. */
export class Unchanged extends Component<{ deps: unknown[]; children: ComponentChildren }> {
  shouldComponentUpdate(next: { deps: unknown[] }) {
    const deps = this.props.deps;
    return next.deps.length !== deps.length || next.deps.some((dep, i) => dep !== deps[i]);
  }

  render() {
    return this.props.children;
  }
}
