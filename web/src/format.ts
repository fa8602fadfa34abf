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
