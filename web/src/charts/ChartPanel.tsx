// A chart card: fetches its own (downsampled) data once near the viewport, refreshes while
// live, and re-fetches with more samples when zoomed so the zoomed window keeps its detail.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, isAbort } from "../api";
import { useNearViewport, useWidth } from "../hooks";
import { LineChart, type Line, type Range, type XMode } from "./LineChart";

export interface RawLine {
  label: string;
  colour?: number;
  dash?: number[];
  steps: number[];
  times: number[];
  values: (number | null)[];
  /** Relative time is measured from here (the run's start). */
  origin: number;
}

export interface ChartSettings {
  xMode: XMode;
  logY: boolean;
  smoothing: number;
}

export type Loader = (samples: number, signal: AbortSignal) => Promise<RawLine[]>;

interface Props {
  /** The chart's key (its `data-key`), shown as its title unless `label` is given. */
  title: string;
  label?: string;
  format?: (value: number) => string;
  load: Loader;
  /** Changes when the data must be fetched again (another run, another key). */
  source: string;
  live: boolean;
  settings: ChartSettings;
  syncKey?: string;
}

const LIVE_MS = 3000;
const MAX_SAMPLES = 100_000;

function toLines(raw: RawLine[], xMode: XMode): Line[] {
  return raw.map((line) => ({
    label: line.label,
    colour: line.colour,
    dash: line.dash,
    x: xMode === "step" ? line.steps : xMode === "wall" ? line.times : line.times.map((t) => t - line.origin),
    y: line.values,
  }));
}

function extent(lines: Line[]): Range | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const line of lines) {
    for (const x of line.x) {
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
  }
  return lo <= hi ? [lo, hi] : null;
}

export function ChartPanel({ title, label, format, load, source, live, settings, syncKey }: Props) {
  const [nearRef, near] = useNearViewport<HTMLDivElement>();
  const [widthRef, width] = useWidth<HTMLDivElement>();
  const [raw, setRaw] = useState<RawLine[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [zoom, setZoom] = useState<Range | null>(null);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    setRaw(null);
    setZoom(null);
  }, [source]);
  useEffect(() => setZoom(null), [settings.xMode]);

  const lines = useMemo(() => (raw ? toLines(raw, settings.xMode) : null), [raw, settings.xMode]);
  const full = useRef<Range | null>(null);
  if (lines && !zoom) full.current = extent(lines);

  // Zoomed to a fraction f of the run: ask for width / f samples, so the window keeps ~width.
  let samples = Math.max(64, Math.round(width));
  if (zoom && full.current && full.current[1] > full.current[0]) {
    const fraction = (zoom[1] - zoom[0]) / (full.current[1] - full.current[0]);
    samples = Math.min(MAX_SAMPLES, Math.round(samples / Math.max(fraction, 1e-6)));
  }
  // Widths within one bucket of 64 px share a request, so resizing does not re-fetch per pixel.
  samples = Math.ceil(samples / 64) * 64;

  useEffect(() => {
    if (!near || width <= 0) return;
    const controller = new AbortController();
    let timer = 0;
    const fetchLines = async () => {
      try {
        setRaw(await loadRef.current(samples, controller.signal));
        setError(null);
      } catch (caught) {
        if (isAbort(caught)) return;
        setError(caught instanceof ApiError ? caught : new ApiError(0, String(caught)));
      }
      if (live) timer = window.setTimeout(fetchLines, LIVE_MS);
    };
    fetchLines();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [near, width > 0, samples, source, live]);

  const numeric = lines?.some((line) => line.y.some((v) => v !== null)) ?? false;
  return (
    <div class="panel" ref={nearRef} data-key={title} data-series-count={lines?.length ?? 0}>
      <div class="panel-head">
        <span class="panel-title" title={title}>
          {label ?? title}
        </span>
        {zoom && (
          <button class="link small" onClick={() => setZoom(null)} title="Or double-click the chart">
            reset zoom
          </button>
        )}
      </div>
      <div class="panel-body" ref={widthRef}>
        {error && <div class="panel-note error">{error.detail}</div>}
        {!error && !lines && <div class="panel-note">loading…</div>}
        {lines && lines.length === 0 && <div class="panel-note">no points</div>}
        {lines && lines.length > 0 && !numeric && <div class="panel-note">not numeric: no chart</div>}
        {lines && numeric && width > 0 && (
          <LineChart
            lines={lines}
            width={width}
            xMode={settings.xMode}
            logY={settings.logY}
            smoothing={settings.smoothing}
            zoom={zoom}
            onZoom={setZoom}
            syncKey={syncKey}
            format={format}
          />
        )}
      </div>
    </div>
  );
}
