import type { Json } from "./api";

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds == null || !isFinite(seconds)) return "";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** Local time as 2026-05-01 14:03: short, sortable, the same in every locale. */
export function formatTime(epochSeconds: number | null | undefined): string {
  if (epochSeconds == null) return "";
  const d = new Date(epochSeconds * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function formatNumber(value: number): string {
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(4);
  return String(Number(value.toPrecision(6)));
}

export function formatValue(value: Json | undefined): string {
  if (value === undefined) return "";
  if (value === null) return "null";
  if (typeof value === "number") return formatNumber(value);
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

/** Nested objects as dotted keys: {"opt": {"lr": 1}} → {"opt.lr": 1}. */
export function flatten(object: Record<string, Json>, prefix = "", out: Record<string, Json> = {}) {
  for (const [key, value] of Object.entries(object)) {
    if (value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length) {
      flatten(value, `${prefix}${key}.`, out);
    } else {
      out[prefix + key] = value;
    }
  }
  return out;
}

/** A chartable number: NaN/Infinity arrive as strings, booleans count as 0/1. */
export function toNumber(value: Json): number | null {
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value === "NaN") return NaN;
  if (value === "Infinity") return Infinity;
  if (value === "-Infinity") return -Infinity;
  return null;
}

/** Distinct colours for lines (ranks, runs), readable on light and dark backgrounds. */
const PALETTE = [
  "#3b6fd8",
  "#e8590c",
  "#2f9e44",
  "#c2255c",
  "#7048e8",
  "#0c8599",
  "#f08c00",
  "#5c940d",
  "#d6336c",
  "#1c7ed6",
  "#ae3ec9",
  "#495057",
];

export function colour(index: number): string {
  return PALETTE[index % PALETTE.length];
}

const BINARY = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
const DECIMAL = ["B/s", "kB/s", "MB/s", "GB/s", "TB/s"];

function scaled(value: number, base: number, units: string[]): string {
  let index = 0;
  let scaledValue = Math.abs(value);
  while (scaledValue >= base && index < units.length - 1) {
    scaledValue /= base;
    index++;
  }
  const digits = scaledValue >= 100 || index === 0 ? 0 : scaledValue >= 10 ? 1 : 2;
  return `${value < 0 ? "-" : ""}${scaledValue.toFixed(digits)} ${units[index]}`;
}

/** 1536 → "1.50 KiB": memory and disk sizes, in powers of 1024. */
export function formatBytes(value: number): string {
  return scaled(value, 1024, BINARY);
}

/** 1500 → "1.50 kB/s": transfer rates, in powers of 1000 as networks and disks count. */
export function formatRate(value: number): string {
  return scaled(value, 1000, DECIMAL);
}

/** How a system metric's values read: by the unit its name ends with. */
export type Unit = "percent" | "bytes" | "rate" | "celsius" | "watts" | "mhz" | "count";

export function unitOf(metric: string): Unit {
  if (metric.endsWith("_percent")) return "percent";
  if (metric.endsWith("_bytes")) return "bytes";
  if (metric.endsWith("_bps")) return "rate";
  if (metric.endsWith("_c")) return "celsius";
  if (metric.endsWith("_w")) return "watts";
  if (metric.endsWith("_mhz")) return "mhz";
  return "count";
}

const short = (v: number) => String(Number(v.toPrecision(3)));

export function formatUnit(unit: Unit): (value: number) => string {
  switch (unit) {
    case "percent":
      return (v) => `${short(v)}%`;
    case "bytes":
      return formatBytes;
    case "rate":
      return formatRate;
    case "celsius":
      return (v) => `${short(v)} °C`;
    case "watts":
      return (v) => `${short(v)} W`;
    case "mhz":
      return (v) => `${Math.round(v)} MHz`;
    case "count":
      return formatNumber;
  }
}
