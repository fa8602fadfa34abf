// One run: charts per metric key (grouped by prefix), console, config and summary, system.
import { useMemo, useState } from "preact/hooks";
import { type History, type RunDetail, type Series, enc, get, runPath } from "../api";
import { ChartPanel, type ChartSettings, type Loader, type RawLine } from "../charts/ChartPanel";
import { ChartToolbar, useChartSettings } from "../charts/settings";
import { ErrorBox, Loading, StateBadge } from "../components";
import { ConsoleView } from "../console/ConsoleView";
import { MediaTab } from "../media/lazy";
import { RunArtifacts } from "../artifacts/RunArtifacts";
import { Overview } from "./Overview";
import { SystemTab } from "./SystemTab";
import { flatten, formatDuration, formatTime, formatValue, toNumber } from "../format";
import { useResource } from "../hooks";
import { RUN_TABS, type RunTab } from "../router";

const LIVE_MS = 3000;

export const byLabel = (a: string, b: string) =>
  a === "main" ? -1 : b === "main" ? 1 : a.localeCompare(b, undefined, { numeric: true });

export function rawLine(series: Series, label: string, origin: number): RawLine {
  return { label, steps: series.steps, times: series.times, values: series.values.map(toNumber), origin };
}

function historyLoader(project: string, run: RunDetail, key: string): Loader {
  return async (samples, signal) => {
    const path = `${runPath(project, run.id)}/history?keys=${enc(key)}&samples=${samples}`;
    const history = await get<History>(path, signal);
    return history.series
      .filter((s) => s.key === key)
      .sort((a, b) => byLabel(a.writer, b.writer))
      .map((s) => rawLine(s, s.writer, run.start_time));
  };
}

/** Keys grouped by their first path component: "train/loss" → section "train". */
export function sections(keys: string[]): [string, string[]][] {
  const groups = new Map<string, string[]>();
  for (const key of keys) {
    const slash = key.indexOf("/");
    const section = slash > 0 ? key.slice(0, slash) : "";
    if (!groups.has(section)) groups.set(section, []);
    groups.get(section)!.push(key);
  }
  return [...groups.entries()]
    .map(([name, list]): [string, string[]] => [
      name,
      list.sort((a, b) => a.localeCompare(b, undefined, { numeric: true })),
    ])
    .sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b)));
}

/** A section of charts: its `data-section`, the title shown, and its chart keys in order. */
export interface ChartGroup {
  name: string;
  title: string;
  keys: string[];
}

/** One collapsible section of charts per key prefix (or per given group); shared by the run's
 * charts and system tabs and the compare page. */
export function ChartSections({
  keys,
  groups,
  loader,
  source,
  live,
  settings,
  syncKey,
  titleOf,
  formatOf,
}: {
  keys: string[];
  groups?: ChartGroup[];
  loader: (key: string) => Loader;
  source: string;
  live: boolean;
  settings: ChartSettings;
  syncKey: string;
  titleOf?: (key: string) => string;
  formatOf?: (key: string) => ((value: number) => string) | undefined;
}) {
  const shown =
    groups ?? sections(keys).map(([name, list]) => ({ name, title: name ? `${name}/` : "metrics", keys: list }));
  return (
    <>
      {shown.map(({ name, title, keys: list }) => (
        <details open class="section" key={name} data-section={name}>
          <summary>
            {title} <span class="muted">{list.length}</span>
          </summary>
          <div class="grid">
            {list.map((key) => (
              <ChartPanel
                key={key}
                title={key}
                label={titleOf?.(key)}
                format={formatOf?.(key)}
                load={loader(key)}
                source={`${source}/${key}`}
                live={live}
                settings={settings}
                syncKey={syncKey}
              />
            ))}
          </div>
        </details>
      ))}
    </>
  );
}

function ChartGrid({ project, run, keys, live }: { project: string; run: RunDetail; keys: string[]; live: boolean }) {
  const [settings, setSettings] = useChartSettings();
  const [filter, setFilter] = useState("");
  const shown = keys.filter((k) => k.toLowerCase().includes(filter.toLowerCase()));
  const loaders = useMemo(() => new Map<string, Loader>(), [project, run.id]);
  const loader = (key: string) => {
    if (!loaders.has(key)) loaders.set(key, historyLoader(project, run, key));
    return loaders.get(key)!;
  };
  return (
    <div class="charts">
      <div class="toolbar">
        <input
          type="search"
          placeholder="filter charts"
          value={filter}
          onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
        />
        <ChartToolbar settings={settings} onChange={setSettings} />
        <span class="muted">drag to zoom, double-click to reset</span>
      </div>
      {shown.length === 0 && (
        <div class="empty">{keys.length ? "No chart matches." : "This run logged no metrics yet."}</div>
      )}
      <ChartSections
        keys={shown}
        loader={loader}
        source={`${project}/${run.id}`}
        live={live}
        settings={settings}
        syncKey={`run-${run.id}`}
      />
    </div>
  );
}

export function KeyValueTable({ title, values }: { title: string; values: Record<string, unknown> }) {
  const flat = flatten(values as never);
  const keys = Object.keys(flat).sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  return (
    <section class="kv">
      <h2>{title}</h2>
      {keys.length === 0 ? (
        <p class="muted">empty</p>
      ) : (
        <table class="simple" data-table={title}>
          <tbody>
            {keys.map((key) => (
              <tr>
                <th>{key}</th>
                <td>{formatValue(flat[key])}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function ConfigTab({ run }: { run: RunDetail }) {
  return (
    <div class="config-tab">
      <KeyValueTable title="config" values={run.config} />
      <KeyValueTable title="summary" values={run.summary} />
      <section class="kv">
        <h2>writers</h2>
        <table class="simple writers">
          <thead>
            <tr>
              <th>label</th>
              <th>pid</th>
              <th>host</th>
              <th class="num">rows</th>
              <th>state</th>
            </tr>
          </thead>
          <tbody>
            {[...run.writer_list]
              .sort((a, b) => byLabel(a.label, b.label))
              .map((w) => (
                <tr>
                  <td>
                    {w.label}
                    {w.main && <span class="muted"> (main)</span>}
                  </td>
                  <td>{w.pid ?? ""}</td>
                  <td>{w.host ?? ""}</td>
                  <td class="num">{w.rows.toLocaleString()}</td>
                  <td>{w.state ?? ""}</td>
                </tr>
              ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}

function Header({ run }: { run: RunDetail }) {
  return (
    <div class="run-header">
      <h1>
        {run.name || run.id} <StateBadge run={run} />
      </h1>
      <div class="facts">
        <span title="run id">{run.id}</span>
        <span>{run.user}</span>
        {run.host && <span>{run.host}</span>}
        <span>started {formatTime(run.start_time)}</span>
        <span>{formatDuration(run.duration)}</span>
        {run.last_step != null && <span>step {run.last_step.toLocaleString()}</span>}
        {run.group && <span>group {run.group}</span>}
        {run.job_type && <span>{run.job_type}</span>}
        {run.tags.map((tag) => (
          <span class="tag">{tag}</span>
        ))}
      </div>
      {run.notes && <p class="notes">{run.notes}</p>}
    </div>
  );
}

export function RunPage({ project, run: runId, tab }: { project: string; run: string; tab: RunTab }) {
  const {
    data: run,
    error,
    reload,
  } = useResource<RunDetail>(runPath(project, runId), {
    pollMs: LIVE_MS,
    poll: (r) => r.live,
  });
  // The media views' code loads while the run does, not after it.
  if (tab === "media") MediaTab.preload();
  if (!run) return error ? <ErrorBox error={error} what={`run ${runId}`} retry={reload} /> : <Loading what="the run" />;
  const live = run.live;
  const base = runPath(project, run.id);
  return (
    <div class="page run-page" data-run={run.id} data-state={run.state}>
      <Header run={run} />
      {error && <div class="banner error">Refresh failed: {error.detail}</div>}
      <nav class="tabs">
        {RUN_TABS.map((name) => (
          <a href={name === "charts" ? base : `${base}/${name}`} class={name === tab ? "active" : ""}>
            {name === "config" ? "config & summary" : name}
          </a>
        ))}
      </nav>
      {tab === "charts" && <ChartGrid project={project} run={run} keys={run.keys} live={live} />}
      {tab === "media" && <MediaTab project={project} run={run} />}
      {tab === "overview" && <Overview project={project} run={run} />}
      {tab === "console" && (
        <ConsoleView project={project} run={run.id} live={live} writerLabels={run.writer_list.map((w) => w.label)} />
      )}
      {tab === "config" && <ConfigTab run={run} />}
      {tab === "system" && <SystemTab project={project} run={run} live={live} />}
      {tab === "artifacts" && <RunArtifacts project={project} run={run.id} />}
    </div>
  );
}
