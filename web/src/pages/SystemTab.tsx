// The run's system metrics: one chart per metric family on a time axis (host, process tree,
// and per GPU family a line per device), with the metric charts' zoom and live refresh.
import { useMemo } from "preact/hooks";
import { type RunDetail, type SystemAnswer, enc, get, runPath } from "../api";
import type { Loader, RawLine } from "../charts/ChartPanel";
import { ChartToolbar, useChartSettings } from "../charts/settings";
import { type Unit, formatUnit, toNumber, unitOf } from "../format";
import { type ChartGroup, ChartSections, byLabel } from "./RunPage";

type Style = "dashed" | "dotted";
const DASH: Record<Style, number[]> = { dashed: [6, 4], dotted: [1.5, 3] };

interface FamilyLine {
  metric: string;
  label: string;
  colour?: number;
  style?: Style;
}

/** One chart: its key (`data-key`), section, title, unit and lines. */
export interface Family {
  key: string;
  section: string;
  title: string;
  unit: Unit;
  lines: FamilyLine[];
}

type Known = [key: string, section: string, title: string, unit: Unit, lines: [string, string, Style?][]];

// The sampler's metrics (tether.system), a chart each family; anything else gets a chart of its own.
const KNOWN: Known[] = [
  ["host.cpu", "host", "CPU %", "percent", [["host.cpu_percent", "host"]]],
  [
    "host.memory",
    "host",
    "memory",
    "bytes",
    [
      ["host.mem_used_bytes", "host used"],
      ["proc.rss_bytes", "process tree RSS"],
      ["host.mem_available_bytes", "host available", "dashed"],
      ["host.swap_used_bytes", "swap used"],
    ],
  ],
  [
    "host.disk_io",
    "host",
    "disk I/O",
    "rate",
    [
      ["host.disk_read_bps", "read"],
      ["host.disk_write_bps", "write"],
    ],
  ],
  [
    "host.network",
    "host",
    "network",
    "rate",
    [
      ["host.net_recv_bps", "received"],
      ["host.net_sent_bps", "sent"],
    ],
  ],
  [
    "host.disk_usage",
    "host",
    "disk usage (the run's filesystem)",
    "bytes",
    [
      ["host.disk_used_bytes", "used"],
      ["host.disk_total_bytes", "total", "dashed"],
    ],
  ],
  ["host.cpu_count", "host", "CPU cores", "count", [["host.cpu_count", "cores"]]],
  ["proc.cpu", "process tree", "CPU % (100 = one core)", "percent", [["proc.cpu_percent", "process tree"]]],
  ["proc.rss", "process tree", "RSS", "bytes", [["proc.rss_bytes", "process tree"]]],
  ["proc.threads", "process tree", "threads", "count", [["proc.threads", "threads"]]],
  ["proc.count", "process tree", "processes", "count", [["proc.count", "processes"]]],
];

// Per GPU device: [family key, title, unit, [metric suffix, line suffix, dashed?][]].
const GPU: [string, string, Unit, [string, string, Style?][]][] = [
  ["util", "utilisation %", "percent", [["util_percent", ""]]],
  [
    "memory",
    "memory",
    "bytes",
    [
      ["mem_used_bytes", ""],
      ["proc_mem_bytes", " process tree", "dotted"],
      ["mem_total_bytes", " total", "dashed"],
    ],
  ],
  ["temp", "temperature", "celsius", [["temp_c", ""]]],
  [
    "power",
    "power vs limit",
    "watts",
    [
      ["power_w", ""],
      ["power_limit_w", " limit", "dashed"],
    ],
  ],
  ["clock", "SM clock", "mhz", [["sm_clock_mhz", ""]]],
];

const SECTIONS = ["host", "process tree", "gpu"];
const GPU_METRIC = /^gpu\.(\d+)\.(.+)$/;

/** The charts for the metrics a run has: known families first, then one chart per unknown name. */
export function families(metrics: string[]): Family[] {
  const present = new Set(metrics);
  const used = new Set<string>();
  const found: Family[] = [];
  for (const [key, section, title, unit, lines] of KNOWN) {
    const have = lines.filter(([metric]) => present.has(metric));
    if (!have.length) continue;
    have.forEach(([metric]) => used.add(metric));
    found.push({
      key,
      section,
      title,
      unit,
      lines: have.map(([metric, label, style], index) => ({ metric, label, style, colour: index })),
    });
  }
  const devices = new Map<string, number[]>(); // metric suffix -> device indexes
  for (const metric of metrics) {
    const match = GPU_METRIC.exec(metric);
    if (!match) continue;
    const list = devices.get(match[2]) ?? [];
    list.push(Number(match[1]));
    devices.set(match[2], list);
  }
  const gpuLines = (suffixes: [string, string, Style?][]) => {
    const lines: FamilyLine[] = [];
    const indexes = [...new Set(suffixes.flatMap(([suffix]) => devices.get(suffix) ?? []))].sort((a, b) => a - b);
    for (const [suffix, labelSuffix, style] of suffixes) {
      for (const device of indexes) {
        const metric = `gpu.${device}.${suffix}`;
        if (!present.has(metric) || used.has(metric)) continue;
        used.add(metric);
        lines.push({ metric, label: `gpu${device}${labelSuffix}`, colour: device, style });
      }
    }
    return lines;
  };
  for (const [key, title, unit, suffixes] of GPU) {
    const lines = gpuLines(suffixes);
    if (lines.length) found.push({ key: `gpu.${key}`, section: "gpu", title: `GPU ${title}`, unit, lines });
  }
  for (const [suffix] of devices) {
    const lines = gpuLines([[suffix, ""]]);
    if (lines.length)
      found.push({ key: `gpu.${suffix}`, section: "gpu", title: `GPU ${suffix}`, unit: unitOf(suffix), lines });
  }
  for (const metric of metrics) {
    if (used.has(metric)) continue;
    const dot = metric.indexOf(".");
    const section = dot > 0 ? metric.slice(0, dot) : "other";
    found.push({
      key: metric,
      section,
      title: metric,
      unit: unitOf(metric),
      lines: [{ metric, label: dot > 0 ? metric.slice(dot + 1) : metric }],
    });
  }
  return found;
}

function groupsOf(found: Family[]): ChartGroup[] {
  const names = [...new Set(found.map((f) => f.section))].sort((a, b) => {
    const [i, j] = [SECTIONS.indexOf(a), SECTIONS.indexOf(b)];
    return (i < 0 ? SECTIONS.length : i) - (j < 0 ? SECTIONS.length : j) || a.localeCompare(b);
  });
  return names.map((name) => ({
    name,
    title: name,
    keys: found.filter((f) => f.section === name).map((f) => f.key),
  }));
}

function systemLoader(project: string, run: RunDetail, family: Family): Loader {
  const metrics = family.lines.map((line) => line.metric);
  return async (samples, signal) => {
    const path = `${runPath(project, run.id)}/system?metrics=${metrics.map(enc).join(",")}&samples=${samples}`;
    const answer = await get<SystemAnswer>(path, signal);
    // A run sampled on several hosts (one writer each) names the host's writer on each line.
    const several = new Set(answer.series.map((s) => s.writer)).size > 1;
    const lines: RawLine[] = [];
    for (const line of family.lines) {
      for (const series of answer.series
        .filter((s) => s.metric === line.metric)
        .sort((a, b) => byLabel(a.writer, b.writer))) {
        lines.push({
          label: several ? `${line.label} (${series.writer})` : line.label,
          colour: several ? undefined : line.colour,
          dash: line.style && DASH[line.style],
          steps: series.times,
          times: series.times,
          values: series.values.map(toNumber),
          origin: run.start_time,
        });
      }
    }
    return lines;
  };
}

export function SystemTab({ project, run, live }: { project: string; run: RunDetail; live: boolean }) {
  const [settings, setSettings] = useChartSettings();
  const metrics = run.system_metrics ?? [];
  const signature = metrics.join(",");
  const found = useMemo(() => families(metrics), [signature]);
  const byKey = useMemo(() => new Map(found.map((f) => [f.key, f])), [found]);
  const loaders = useMemo(() => new Map<string, Loader>(), [project, run.id, signature]);
  const loader = (key: string) => {
    if (!loaders.has(key)) loaders.set(key, systemLoader(project, run, byKey.get(key)!));
    return loaders.get(key)!;
  };
  if (!found.length) return <p class="muted quiet">No system metrics were recorded for this run.</p>;
  const timeSettings = { ...settings, xMode: settings.xMode === "step" ? ("relative" as const) : settings.xMode };
  return (
    <div class="charts system-tab" data-charts={found.length}>
      <div class="toolbar">
        <ChartToolbar settings={timeSettings} onChange={setSettings} timeOnly />
        <span class="muted">drag to zoom, double-click to reset</span>
      </div>
      <ChartSections
        keys={found.map((f) => f.key)}
        groups={groupsOf(found)}
        loader={loader}
        // The lines of a family change when a metric appears (a GPU found later): fetch again.
        source={`${project}/${run.id}/system/${metrics.length}`}
        live={live}
        settings={timeSettings}
        syncKey={`system-${run.id}`}
        titleOf={(key) => byKey.get(key)?.title ?? key}
        formatOf={(key) => formatUnit(byKey.get(key)?.unit ?? "count")}
      />
    </div>
  );
}
