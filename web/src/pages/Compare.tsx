// Selected runs side by side: one chart per key with a line per run, configs diffed.
import { useEffect, useMemo, useState } from "preact/hooks";
import { ApiError, type History, type Json, type RunDetail, enc, get, isAbort, runPath } from "../api";
import type { Loader } from "../charts/ChartPanel";
import { ChartToolbar, useChartSettings } from "../charts/settings";
import { ErrorBox, Loading, StateBadge } from "../components";
import { colour, flatten, formatValue } from "../format";
import { CompareMedia } from "../media/lazy";
import { ChartSections, byLabel, rawLine } from "./RunPage";

const LIVE_MS = 3000;

function useRunDetails(project: string, ids: string[]) {
  const [runs, setRuns] = useState<(RunDetail | ApiError)[] | null>(null);
  const [tick, setTick] = useState(0);
  const key = ids.join(",");
  useEffect(() => {
    const controller = new AbortController();
    Promise.all(
      ids.map((id) =>
        get<RunDetail>(runPath(project, id), controller.signal).catch((error: unknown) => {
          if (isAbort(error)) throw error;
          return error instanceof ApiError ? error : new ApiError(0, String(error));
        }),
      ),
    )
      .then((results) => {
        setRuns(results);
        if (results.some((r) => !(r instanceof ApiError) && r.live)) {
          setTimeout(() => !controller.signal.aborted && setTick((t) => t + 1), LIVE_MS);
        }
      })
      .catch(() => undefined);
    return () => controller.abort();
  }, [project, key, tick]);
  return runs;
}

/** One line per run: the run's main writer, else its first. */
function compareLoader(project: string, runs: RunDetail[], labels: string[], key: string): Loader {
  return async (samples, signal) => {
    const lines = await Promise.all(
      runs.map(async (run, index) => {
        if (!run.keys.includes(key)) return null;
        const path = `${runPath(project, run.id)}/history?keys=${enc(key)}&samples=${samples}`;
        const history = await get<History>(path, signal);
        const main = run.writer_list.find((w) => w.main)?.label;
        const series =
          history.series.find((s) => s.writer === main) ??
          [...history.series].sort((a, b) => byLabel(a.writer, b.writer))[0];
        if (!series) return null;
        const label = series.writer === main ? labels[index] : `${labels[index]} (${series.writer})`;
        return rawLine(series, label, run.start_time);
      }),
    );
    return lines.filter((line) => line !== null);
  };
}

function same(values: (Json | undefined)[]): boolean {
  const first = JSON.stringify(values[0]);
  return values.every((v) => JSON.stringify(v) === first);
}

function DiffTable({
  title,
  runs,
  labels,
  pick,
}: {
  title: string;
  runs: RunDetail[];
  labels: string[];
  pick: (run: RunDetail) => Record<string, Json>;
}) {
  const [onlyDiff, setOnlyDiff] = useState(false);
  const flat = runs.map((run) => flatten(pick(run)));
  const keys = [...new Set(flat.flatMap((f) => Object.keys(f)))].sort((a, b) =>
    a.localeCompare(b, undefined, { numeric: true }),
  );
  const rows = keys.map((key) => ({ key, values: flat.map((f) => f[key]), differs: !same(flat.map((f) => f[key])) }));
  const differing = rows.filter((r) => r.differs).length;
  return (
    <section class="kv diff">
      <h2>
        {title}{" "}
        <span class="muted">
          {differing} of {keys.length} keys differ
        </span>
        <label class="check small">
          <input type="checkbox" checked={onlyDiff} onChange={() => setOnlyDiff(!onlyDiff)} /> only differences
        </label>
      </h2>
      <table class="simple" data-table={title}>
        <thead>
          <tr>
            <th>key</th>
            {labels.map((label, i) => (
              <th style={{ color: colour(i) }}>{label}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows
            .filter((r) => !onlyDiff || r.differs)
            .map((row) => (
              <tr class={row.differs ? "differs" : ""} data-key={row.key}>
                <th>{row.key}</th>
                {row.values.map((v) => (
                  <td class={v === undefined ? "muted" : ""}>{v === undefined ? "—" : formatValue(v)}</td>
                ))}
              </tr>
            ))}
        </tbody>
      </table>
    </section>
  );
}

export function ComparePage({ project, runs: ids }: { project: string; runs: string[] }) {
  const results = useRunDetails(project, ids);
  const [settings, setSettings] = useChartSettings();
  const runs = useMemo(() => (results ?? []).filter((r): r is RunDetail => !(r instanceof ApiError)), [results]);
  const labels = useMemo(() => {
    const names = runs.map((r) => r.name || r.id);
    return names.map((name, i) => (names.indexOf(name) !== names.lastIndexOf(name) ? `${name} (${runs[i].id})` : name));
  }, [runs]);
  const runKey = runs.map((r) => r.id).join(",");
  const loaders = useMemo(() => new Map<string, Loader>(), [project, runKey]);
  if (ids.length === 0) return <div class="empty-page">No runs to compare: select runs in the runs table.</div>;
  if (!results) return <Loading what="the runs" />;
  const failed = results.map((r, i) => [ids[i], r] as const).filter(([, r]) => r instanceof ApiError);
  const keys = [...new Set(runs.flatMap((r) => r.keys))].filter((k) => !k.startsWith("system/"));
  const live = runs.some((r) => r.live);
  const loader = (key: string) => {
    if (!loaders.has(key)) loaders.set(key, compareLoader(project, runs, labels, key));
    return loaders.get(key)!;
  };
  return (
    <div class="page compare-page" data-runs={runs.length}>
      <h1>Compare {runs.length} runs</h1>
      {failed.map(([id, error]) => (
        <ErrorBox error={error as ApiError} what={`run ${id}`} />
      ))}
      <div class="legend-chips">
        {runs.map((run, i) => (
          <a class="chip" href={runPath(project, run.id)} style={{ borderColor: colour(i) }}>
            <span class="swatch" style={{ background: colour(i) }} />
            {labels[i]} <StateBadge run={run} />
          </a>
        ))}
      </div>
      <div class="toolbar">
        <ChartToolbar settings={settings} onChange={setSettings} />
      </div>
      <ChartSections
        keys={keys}
        loader={loader}
        source={runKey}
        live={live}
        settings={settings}
        syncKey={`compare-${runKey}`}
      />
      <CompareMedia project={project} runs={runs} labels={labels} />
      <DiffTable title="config" runs={runs} labels={labels} pick={(r) => r.config} />
      <DiffTable title="summary" runs={runs} labels={labels} pick={(r) => r.summary} />
    </div>
  );
}
