// The workspace's charts: one per metric key, over every run the filter passes (the lines of
// GET P/runs/lines, asked for with the runs themselves in data.ts: on one step axis,
// downsampled on the server), or, grouped, one line per group with its band
// (GET P/runs/groups/history, aggregated on the server). A grid as wide as the page; the
// user sets the charts' width, and the smoothing and log scale the run page has.
import { useLayoutEffect, useMemo, useState } from "preact/hooks";
import { ApiError, isAbort } from "../api";
import { colour } from "../format";
import { useWidth } from "../hooks";
import { type Agg, type Band, type RunLines, fetchGroupHistory } from "./api";
import type { Highlight } from "./highlight";
import { type ChartLine, ManyLines } from "./ManyLines";

export const MAX_CHART_KEYS = 24;
const POINTS = 300;

interface Props {
  project: string;
  /** The runs charted, in the table's order; their colours are their rows'. */
  runs: { id: string; label: string; colour: number }[];
  keys: string[];
  /** Not grouped: the runs' lines (null while they load), or why they could not be had. */
  lines: RunLines | null;
  linesError: ApiError | null;
  filter: string;
  group: string[];
  agg: Agg;
  band: Band;
  smoothing: number;
  logY: boolean;
  size: number;
  highlight: Highlight;
  /** A group's colour: its row's in the group table. */
  groupColour: (label: string) => number | undefined;
  isolated: string | null;
  onIsolate: (id: string | null) => void;
}

/** metric -> lines */
type Charted = Map<string, ChartLine[]>;

function useChartData(props: Props): { data: Charted | null; error: ApiError | null } {
  const grouped = useGroupData(props);
  const { runs, keys, lines, linesError, group } = props;
  const runKey = runs.map((r) => `${r.id}:${r.colour}`).join(",");
  const ungrouped = useMemo(() => {
    if (group.length > 0 || !lines) return null;
    const charted: Charted = new Map();
    for (const key of keys) {
      const aligned = lines.byKey.get(key);
      const drawn: ChartLine[] = [];
      for (const run of aligned ? runs : []) {
        const y = aligned!.rows.get(run.id);
        // The same x array for every line: ManyLines then skips the join.
        if (y) drawn.push({ id: run.id, label: run.label, colour: colour(run.colour), x: aligned!.step, y });
      }
      charted.set(key, drawn);
    }
    return charted;
  }, [lines, runKey, keys.join("\u0000"), group.length > 0]);
  if (group.length > 0) return grouped;
  return { data: ungrouped, error: linesError };
}

/** Grouped: per group and metric a line with its band, from the server's aggregates. */
function useGroupData(props: Props): { data: Charted | null; error: ApiError | null } {
  const { project, keys, filter, group, agg, band, groupColour } = props;
  const [state, setState] = useState<{ data: Charted | null; error: ApiError | null }>({ data: null, error: null });
  // A layout effect: the request leaves right after the render, not after the next paint.
  useLayoutEffect(() => {
    if (group.length === 0) return;
    if (keys.length === 0) {
      setState({ data: new Map(), error: null });
      return;
    }
    const controller = new AbortController();
    const load = async (): Promise<Charted> => {
      const charted: Charted = new Map(keys.map((k) => [k, []]));
      const history = await fetchGroupHistory(
        project,
        { by: group, filter, keys, agg, band, points: POINTS },
        controller.signal,
      );
      Object.entries(history).forEach(([label, metrics], index) => {
        for (const [key, series] of Object.entries(metrics)) {
          charted.get(key)?.push({
            id: label,
            label,
            colour: colour(groupColour(label) ?? index),
            x: series.step,
            y: series.value,
            low: band === "none" ? undefined : series.low,
            high: band === "none" ? undefined : series.high,
            n: series.n,
          });
        }
      });
      return charted;
    };
    load()
      .then((data) => setState({ data, error: null }))
      .catch((caught: unknown) => {
        if (isAbort(caught)) return;
        setState({ data: null, error: caught instanceof ApiError ? caught : new ApiError(0, String(caught)) });
      });
    return () => controller.abort();
  }, [project, keys.join("\u0000"), filter, group.join(","), agg, band]);
  return state;
}

function ChartCard({ name, lines, props }: { name: string; lines: ChartLine[]; props: Props }) {
  const [ref, width] = useWidth<HTMLDivElement>();
  // The same array while nothing changed: a new one redraws the chart.
  const shown = useMemo(
    () => (props.isolated ? lines.filter((l) => l.id === props.isolated) : lines),
    [lines, props.isolated],
  );
  return (
    <div class="panel ws-chart" data-key={name} data-series-count={shown.length}>
      <div class="panel-head">
        <span class="panel-title" title={name}>
          {name}
        </span>
      </div>
      <div class="panel-body" ref={ref}>
        {shown.length === 0 && <div class="panel-note">no points</div>}
        {shown.length > 0 && width > 0 && (
          <ManyLines
            lines={shown}
            width={width}
            height={220}
            smoothing={props.smoothing}
            logY={props.logY}
            highlight={props.highlight}
            onIsolate={(id) => props.onIsolate(props.isolated === id ? null : id)}
          />
        )}
      </div>
    </div>
  );
}

export function WorkspaceCharts(props: Props) {
  const { data, error } = useChartData(props);
  if (error) return <div class="panel-note error">Could not load the charts: {error.detail}</div>;
  if (!data) return <div class="panel-note">loading charts…</div>;
  const charted = [...data.entries()].filter(([, lines]) => lines.length > 0);
  if (charted.length === 0) return <div class="panel-note">No metrics logged by these runs.</div>;
  return (
    <div
      class="ws-grid"
      style={{ gridTemplateColumns: `repeat(auto-fill, minmax(${props.size}px, 1fr))` }}
      data-charts={charted.length}
    >
      {charted.map(([name, lines]) => (
        <ChartCard key={name} name={name} lines={lines} props={props} />
      ))}
    </div>
  );
}
