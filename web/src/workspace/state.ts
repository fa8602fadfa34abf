// The workspace's view, read from and written to the URL, so a link reproduces it; a saved
// view stores the same parameters (PUT P/views/{name} {"state": {...}}).
//   ?filter=...&group=config.lr,group&agg=mean&band=minmax&cols=...&hidden=...&smooth=0.6
//   &x=step&panels=charts,parallel,scatter&pc=config.lr,config.seed&pcm=summary.acc
//   &sx=config.lr&sy=summary.acc&brush=config.lr:0.01:0.02&size=420&view=<name>
import type { XMode } from "../charts/LineChart";
import type { Agg, Band } from "./api";

export type Panel = "charts" | "parallel" | "scatter";
export const PANELS: Panel[] = ["charts", "parallel", "scatter"];

/** A brushed range on one parallel-coordinates axis. */
export interface Brush {
  key: string;
  low: number;
  high: number;
}

export interface Workspace {
  filter: string;
  group: string[];
  agg: Agg;
  band: Band;
  cols: string[];
  hidden: string[];
  smooth: number;
  x: XMode;
  panels: Panel[];
  pc: string[];
  pcm: string;
  sx: string;
  sy: string;
  brush: Brush[];
  size: number;
  view: string;
  /** The URL is an older page's (?tag=, ?group=<name>): it is rewritten to this workspace's. */
  legacy: boolean;
}

/** The parameters a view consists of (what a saved view stores). */
export const VIEW_PARAMS = [
  "filter", "group", "agg", "band", "cols", "hidden", "smooth", "x", "panels",
  "pc", "pcm", "sx", "sy", "brush", "size", "order", "search", "state",
]; // prettier-ignore

const list = (value: string | null): string[] => (value ?? "").split(",").filter(Boolean);

function oneOf<T extends string>(value: string | null, choices: readonly T[], fallback: T): T {
  return choices.includes(value as T) ? (value as T) : fallback;
}

function parseBrushes(value: string | null): Brush[] {
  const brushes: Brush[] = [];
  for (const part of list(value)) {
    // The key may hold ":" itself: the two numbers are the last two fields.
    const fields = part.split(":");
    if (fields.length < 3) continue;
    const high = Number(fields.pop());
    const low = Number(fields.pop());
    if (isFinite(low) && isFinite(high)) brushes.push({ key: fields.join(":"), low, high });
  }
  return brushes;
}

/** What the group-by control offers; anything else in `group=` is an older link's group name. */
export const GROUP_FIELDS = ["group", "job_type", "tags", "state", "user", "host"];
const groupable = (by: string) => GROUP_FIELDS.includes(by) || /^(config|summary|environment)\./.test(by);

export function readWorkspace(query: URLSearchParams): Workspace {
  const smooth = Number(query.get("smooth") ?? "0");
  const size = Number(query.get("size") ?? "0");
  // Links from before the workspace: ?group=<a group's name>, ?tag=<tag> filtered.
  const group = list(query.get("group"));
  let filter = query.get("filter") ?? "";
  const legacyGroup = group.length === 1 && !groupable(group[0]);
  if (legacyGroup) filter = andClause(filter, `group = ${JSON.stringify(group.pop())}`);
  const tag = query.get("tag");
  if (tag) filter = andClause(filter, `tags has ${JSON.stringify(tag)}`);
  return {
    filter,
    group,
    agg: oneOf(query.get("agg"), ["mean", "median", "min", "max"] as const, "mean"),
    band: oneOf(query.get("band"), ["minmax", "std", "none"] as const, "minmax"),
    cols: list(query.get("cols")),
    hidden: list(query.get("hidden")),
    smooth: isFinite(smooth) ? Math.min(0.99, Math.max(0, smooth)) : 0,
    x: oneOf(query.get("x"), ["step", "relative", "wall"] as const, "step"),
    panels: query.has("panels")
      ? (list(query.get("panels")).filter((p) => PANELS.includes(p as Panel)) as Panel[])
      : ["charts"],
    pc: list(query.get("pc")),
    pcm: query.get("pcm") ?? "",
    sx: query.get("sx") ?? "",
    sy: query.get("sy") ?? "",
    brush: parseBrushes(query.get("brush")),
    size: isFinite(size) && size >= 200 ? Math.min(1600, size) : 380,
    view: query.get("view") ?? "",
    legacy: legacyGroup || tag !== null,
  };
}

export function brushText(brushes: Brush[]): string | null {
  return brushes.length ? brushes.map((b) => `${b.key}:${b.low}:${b.high}`).join(",") : null;
}

/** A filter expression literal for a value: numbers bare, strings double-quoted. */
export function literal(value: unknown): string {
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value === null || value === undefined) return "null";
  return JSON.stringify(String(value));
}

/** The brushes as filter clauses, joined to the user's filter with `and`. The user's text
 * comes first, in parentheses, so the server's error position is off by one at most. */
export function effectiveFilter(filter: string, brushes: Brush[]): { text: string; offset: number } {
  const clauses = brushes.map((b) => `${b.key} >= ${b.low} and ${b.key} <= ${b.high}`);
  const user = filter.trim();
  if (!clauses.length) return { text: user, offset: 0 };
  if (!user) return { text: clauses.join(" and "), offset: 0 };
  return { text: `(${user}) and ${clauses.join(" and ")}`, offset: 1 };
}

/** Adds a clause to a filter with `and` (a click on a tag or a group in the table). */
export function andClause(filter: string, clause: string): string {
  const current = filter.trim();
  if (!current) return clause;
  if (current.includes(clause)) return current;
  return `${current} and ${clause}`;
}

/** The view's parameters from the current URL (what a saved view stores). */
export function viewState(query: URLSearchParams): Record<string, string> {
  const state: Record<string, string> = {};
  for (const name of VIEW_PARAMS) {
    const value = query.get(name);
    if (value) state[name] = value;
  }
  return state;
}
