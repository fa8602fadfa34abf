// Reading a run's fields by the filter grammar's names (`config.lr`, `summary.acc`, `state`...),
// and the scales the hyperparameter panels draw them on.
import type { Json, Run } from "../api";
import type { ProjectKeys } from "./api";
import type { Brush } from "./state";

export function fieldValue(run: Run, field: string): Json | undefined {
  const dot = field.indexOf(".");
  const section = dot < 0 ? field : field.slice(0, dot);
  const key = field.slice(dot + 1);
  if (section === "config") return run.config[key];
  if (section === "summary") return run.summary[key];
  if (section === "environment") return run.environment?.[key];
  const plain = (run as unknown as Record<string, Json | undefined>)[field];
  return plain;
}

export function numeric(value: Json | undefined): number | null {
  return typeof value === "number" && isFinite(value) ? value : typeof value === "boolean" ? Number(value) : null;
}

/** A scale from a field's values to [0, 1]: linear for numbers, evenly spaced categories else. */
export interface Scale {
  field: string;
  numeric: boolean;
  min: number;
  max: number;
  categories: string[];
  at: (value: Json | undefined) => number | null;
  /** From [0, 1] back to a value (numeric scales). */
  invert: (position: number) => number;
}

export function scaleOf(field: string, runs: Run[]): Scale {
  const values = runs.map((run) => fieldValue(run, field)).filter((v) => v !== undefined && v !== null);
  const isNumeric = values.length > 0 && values.every((v) => numeric(v) !== null);
  if (isNumeric) {
    const numbers = values.map((v) => numeric(v)!);
    let min = Math.min(...numbers);
    let max = Math.max(...numbers);
    if (min === max) {
      const pad = Math.abs(min) * 0.1 || 0.5;
      min -= pad;
      max += pad;
    }
    return {
      field,
      numeric: true,
      min,
      max,
      categories: [],
      at: (v) => {
        const n = numeric(v);
        return n === null ? null : (n - min) / (max - min);
      },
      invert: (p) => min + p * (max - min),
    };
  }
  const categories = [...new Set(values.map((v) => JSON.stringify(v)))].sort();
  return {
    field,
    numeric: false,
    min: 0,
    max: Math.max(1, categories.length - 1),
    categories,
    at: (v) => {
      if (v === undefined || v === null) return null;
      const i = categories.indexOf(JSON.stringify(v));
      return categories.length === 1 ? 0.5 : i / (categories.length - 1);
    },
    invert: (p) => p,
  };
}

export function passesBrushes(run: Run, brushes: Brush[]): boolean {
  return brushes.every((b) => {
    const n = numeric(fieldValue(run, b.key));
    return n !== null && n >= b.low && n <= b.high;
  });
}

/** Config and summary fields whose values differ between the runs (missing counts as a value). */
export function differingFields(runs: Run[]): { config: string[]; summary: string[] } {
  const differs = (section: "config" | "summary") => {
    const seen = new Map<string, Set<string>>();
    for (const run of runs) for (const key of Object.keys(run[section])) seen.set(key, new Set());
    for (const [key, set] of seen) {
      for (const run of runs) set.add(JSON.stringify(run[section][key] ?? null));
    }
    return [...seen.entries()]
      .filter(([, set]) => set.size > 1)
      .map(([key]) => `${section}.${key}`)
      .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  };
  return runs.length > 1 ? { config: differs("config"), summary: differs("summary") } : { config: [], summary: [] };
}

/** Numeric summary keys of the runs: the metrics the charts draw (a summary holds each logged
 * key's newest value). */
export function metricKeys(runs: Run[], limit: number): string[] {
  const keys = new Set<string>();
  for (const run of runs) {
    for (const [key, value] of Object.entries(run.summary)) if (typeof value === "number") keys.add(key);
  }
  return [...keys].sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).slice(0, limit);
}

/** Every config, summary and environment field a column can show: the project's (GET
 * runs/keys), and the runs' own while that answer is on its way. */
export function columnKeys(keys: ProjectKeys | null, runs: Run[]): string[] {
  const seen = new Set<string>();
  for (const key of keys?.config ?? []) seen.add(`config.${key}`);
  for (const key of keys?.summary ?? []) seen.add(`summary.${key}`);
  for (const key of keys?.environment ?? []) seen.add(`environment.${key}`);
  for (const run of runs) {
    for (const key of Object.keys(run.config)) seen.add(`config.${key}`);
    for (const key of Object.keys(run.summary)) seen.add(`summary.${key}`);
    for (const key of Object.keys(run.environment ?? {})) seen.add(`environment.${key}`);
  }
  return [...seen].sort();
}
