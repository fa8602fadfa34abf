// The chart toolbar (x axis, smoothing, log scale), remembered in this browser.
import { useState } from "preact/hooks";
import type { ChartSettings } from "./ChartPanel";
import type { XMode } from "./LineChart";

const STORAGE = "tether.chartSettings";
const DEFAULTS: ChartSettings = { xMode: "step", logY: false, smoothing: 0 };

export function useChartSettings(): [ChartSettings, (s: ChartSettings) => void] {
  const [settings, setSettings] = useState<ChartSettings>(() => {
    try {
      return { ...DEFAULTS, ...JSON.parse(localStorage.getItem(STORAGE) ?? "{}") };
    } catch {
      return DEFAULTS;
    }
  });
  const save = (next: ChartSettings) => {
    setSettings(next);
    localStorage.setItem(STORAGE, JSON.stringify(next));
  };
  return [settings, save];
}

export function ChartToolbar({
  settings,
  onChange,
  timeOnly = false,
}: {
  settings: ChartSettings;
  onChange: (s: ChartSettings) => void;
  /** Charts on a time axis only (system metrics have no step). */
  timeOnly?: boolean;
}) {
  return (
    <>
      <label>
        x axis{" "}
        <select
          aria-label="x axis"
          value={timeOnly && settings.xMode === "step" ? "relative" : settings.xMode}
          onChange={(e) => onChange({ ...settings, xMode: (e.target as HTMLSelectElement).value as XMode })}
        >
          {!timeOnly && <option value="step">step</option>}
          <option value="relative">time (since start)</option>
          <option value="wall">time (wall clock)</option>
        </select>
      </label>
      <label class="smoothing">
        smoothing
        <input
          type="range"
          aria-label="smoothing"
          min="0"
          max="0.99"
          step="0.01"
          value={settings.smoothing}
          onInput={(e) => onChange({ ...settings, smoothing: Number((e.target as HTMLInputElement).value) })}
        />
        <span class="num">{settings.smoothing.toFixed(2)}</span>
      </label>
      <label class="check">
        <input
          type="checkbox"
          aria-label="log scale"
          checked={settings.logY}
          onChange={(e) => onChange({ ...settings, logY: (e.target as HTMLInputElement).checked })}
        />
        log y
      </label>
    </>
  );
}
