// The workspace's endpoints (issue 16; docs/api.md): the filtered listing, keys for completion,
// groups and their aggregated histories, many runs' histories in one request, views, bulk actions.
// A malformed filter comes back as a FilterError carrying the server's position.
import { ApiError, type Json, type RunPage, enc, notifyUnauthorized, projectPath, requestHeaders, send } from "../api";
import { takeFirstResponse } from "../firstAnswer";

/** The server's answer to a malformed filter (HTTP 422). */
export interface FilterProblem {
  message: string;
  /** 0-based character offset into the filter text. */
  position: number;
  expected: string[];
}

export class FilterError extends ApiError {
  constructor(readonly problem: FilterProblem) {
    super(422, problem.message);
  }
}

function problemOf(body: unknown): FilterProblem | null {
  const detail = (body as { detail?: unknown } | null)?.detail as Partial<FilterProblem> | undefined;
  if (!detail || typeof detail !== "object" || typeof detail.message !== "string") return null;
  return {
    message: detail.message,
    position: typeof detail.position === "number" ? detail.position : 0,
    expected: Array.isArray(detail.expected) ? detail.expected.map(String) : [],
  };
}

async function call<T>(method: string, path: string, signal?: AbortSignal, body?: unknown): Promise<T> {
  const headers = requestHeaders();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response: Response | null = method === "GET" ? takeFirstResponse(path) : null;
  if (signal?.aborted) throw new DOMException("the request was aborted", "AbortError");
  try {
    response ??= await fetch(`/api/v1${path}`, {
      method,
      headers,
      signal,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ApiError(0, "cannot reach the tether server; is it still running?");
  }
  const answer: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    if (response.status === 401) notifyUnauthorized();
    const problem = response.status === 422 ? problemOf(answer) : null;
    if (problem) throw new FilterError(problem);
    const detail = (answer as { detail?: unknown } | null)?.detail;
    throw new ApiError(response.status, typeof detail === "string" ? detail : `the server answered ${response.status}`);
  }
  return answer as T;
}

/** A GET that keeps the filter's position when the server refuses it. */
export function fetchJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return call<T>("GET", path, signal);
}

export interface ProjectKeys {
  config: string[];
  summary: string[];
  environment: string[];
  tags: string[];
  groups: string[];
  job_types?: string[];
  users: string[];
  hosts: string[];
}

export function fetchKeys(project: string, signal?: AbortSignal): Promise<ProjectKeys> {
  return fetchJson<ProjectKeys>(`${projectPath(project)}/runs/keys`, signal);
}

/** The table's query: its filter, order, name search and state, and how many runs. */
export interface RunsQuery {
  filter: string;
  order: string;
  limit: number;
  search: string;
  state: string;
}

/** The runs list's parameters, in the order server/first_answer.py writes them. */
export function runsParams({ filter, order, limit, search, state }: RunsQuery): URLSearchParams {
  const params = new URLSearchParams({ order, limit: String(limit) });
  if (search) params.set("search", search);
  if (state) params.set("state", state);
  if (filter) params.set("filter", filter);
  return params;
}

/** Up to `limit` runs passing `filter`, in `order`: what the charts and panels show. */
export function fetchRuns(project: string, query: RunsQuery, signal?: AbortSignal): Promise<RunPage> {
  return fetchJson<RunPage>(`${projectPath(project)}/runs?${runsParams(query)}`, signal);
}

export interface Aggregate {
  mean: number | null;
  min: number | null;
  max: number | null;
  std: number | null;
  count: number;
}

export interface RunGroup {
  key: Record<string, Json>;
  /** `config.lr=0.01, group=a`: the group's name in its history too. */
  label: string;
  count: number;
  runs: string[];
  summary: Record<string, Aggregate>;
}

function byParams(by: string[], filter: string): URLSearchParams {
  const params = new URLSearchParams();
  for (const key of by) params.append("by", key);
  if (filter) params.set("filter", filter);
  return params;
}

export function fetchGroups(project: string, by: string[], filter: string, signal?: AbortSignal): Promise<RunGroup[]> {
  return fetchJson<RunGroup[]>(`${projectPath(project)}/runs/groups?${byParams(by, filter)}`, signal);
}

export type Agg = "mean" | "median" | "min" | "max";
export type Band = "minmax" | "std" | "none";

export interface BandSeries {
  step: number[];
  value: (number | null)[];
  low: (number | null)[];
  high: (number | null)[];
  n: number[];
}

/** group label -> metric -> series aligned by step. */
export type GroupHistory = Record<string, Record<string, BandSeries>>;

export function fetchGroupHistory(
  project: string,
  query: { by: string[]; filter: string; keys: string[]; agg: Agg; band: Band; points: number },
  signal?: AbortSignal,
): Promise<GroupHistory> {
  const params = byParams(query.by, query.filter);
  for (const key of query.keys) params.append("keys", key);
  params.set("agg", query.agg);
  params.set("band", query.band);
  params.set("points", String(query.points));
  return fetchJson<GroupHistory>(`${projectPath(project)}/runs/groups/history?${params}`, signal);
}

/** One metric of many runs on one shared step axis: a row of values per run, null where the
 * run has no point there (`GET P/runs/lines`). `step` is the same array for every row, so the
 * chart needs no join of a thousand x axes. */
export interface AlignedLines {
  step: number[];
  rows: Map<string, (number | null)[]>;
}

export interface RunLines {
  /** The metrics charted, in order. */
  keys: string[];
  byKey: Map<string, AlignedLines>;
}

interface RunLinesAnswer {
  keys: string[];
  lines: Record<string, { step: number[]; runs: string[]; values: string }>;
}

const LITTLE_ENDIAN = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;

/** Little-endian float64 values from base64 (the server's `values`). */
export function decodeFloats(text: string): Float64Array {
  const decoder = (Uint8Array as unknown as { fromBase64?: (s: string) => Uint8Array }).fromBase64;
  let bytes: Uint8Array;
  if (decoder) bytes = decoder(text);
  else {
    const binary = atob(text);
    bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  }
  if (LITTLE_ENDIAN) return new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float64Array.from({ length: bytes.byteLength / 8 }, (_, i) => view.getFloat64(i * 8, true));
}

/** The charts of the first `limit` runs the table lists (same filter, order, search, state):
 * per metric, every run's line on a shared step axis, downsampled on the server. */
export async function fetchRunLines(project: string, query: RunsQuery, signal?: AbortSignal): Promise<RunLines> {
  const answer = await fetchJson<RunLinesAnswer>(`${projectPath(project)}/runs/lines?${runsParams(query)}`, signal);
  const byKey = new Map<string, AlignedLines>();
  for (const [key, line] of Object.entries(answer.lines)) {
    const values = decodeFloats(line.values);
    const width = line.step.length;
    const rows = new Map<string, (number | null)[]>();
    line.runs.forEach((run, r) => {
      const row: (number | null)[] = new Array(width);
      for (let i = 0; i < width; i++) {
        const v = values[r * width + i];
        row[i] = Number.isNaN(v) ? null : v;
      }
      rows.set(run, row);
    });
    byKey.set(key, { step: line.step, rows });
  }
  return { keys: answer.keys, byKey };
}

export interface SavedView {
  name: string;
  state: Record<string, string>;
  updated: number;
}

export function fetchViews(project: string, signal?: AbortSignal): Promise<SavedView[]> {
  return fetchJson<SavedView[]>(`${projectPath(project)}/views`, signal);
}

export function saveView(project: string, name: string, state: Record<string, string>): Promise<unknown> {
  return send("PUT", `${projectPath(project)}/views/${enc(name)}`, { state });
}

export function deleteView(project: string, name: string): Promise<unknown> {
  return send("DELETE", `${projectPath(project)}/views/${enc(name)}`);
}

export type BulkAction = "tag" | "untag" | "move" | "delete";

export function bulk(
  project: string,
  action: BulkAction,
  runs: string[],
  extra: { tag?: string; project?: string } = {},
): Promise<{ changed: number }> {
  return send("POST", `${projectPath(project)}/runs/bulk`, { action, runs, ...extra });
}
