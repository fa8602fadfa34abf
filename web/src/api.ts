// The server's HTTP API (docs/api.md): typed responses, the API key, and errors as values.
import { takePrefetched } from "./prefetch";

export interface Project {
  name: string;
  runs: number;
  updated_at: number;
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface Run {
  id: string;
  name: string;
  project: string;
  user: string;
  state: string;
  group: string | null;
  job_type: string | null;
  tags: string[];
  notes: string | null;
  config: Record<string, Json>;
  summary: Record<string, Json>;
  start_time: number;
  end_time: number | null;
  duration: number;
  last_step: number | null;
  host: string | null;
  writers: number;
  /** A few flat fields of the run's environment: "git.commit", "gpu.name", "python.version"... */
  environment?: Record<string, Json>;
}

export interface WriterInfo {
  id: string;
  label: string;
  pid: number | null;
  host: string | null;
  main: boolean;
  rows: number;
  state: string | null;
}

export interface RunDetail extends Run {
  keys: string[];
  writer_list: WriterInfo[];
  /** The run's system metrics ("host.cpu_percent", "gpu.0.util_percent"...), first seen first. */
  system_metrics?: string[];
}

export interface SystemSeries {
  metric: string;
  writer: string;
  times: number[];
  values: Json[];
}

export interface SystemAnswer {
  series: SystemSeries[];
  sampled: boolean;
  metrics: string[];
}

export interface EnvironmentAnswer {
  environment: Record<string, Json>;
  updated_at: number | null;
}

export interface RunPage {
  runs: Run[];
  total: number;
}

export interface Series {
  key: string;
  writer: string;
  steps: number[];
  times: number[];
  values: Json[];
}

export interface History {
  series: Series[];
  sampled: boolean;
}

export interface ConsoleLine {
  id: number;
  writer: string;
  stream: "stdout" | "stderr";
  text: string;
  time: number;
}

export interface ConsolePage {
  lines: ConsoleLine[];
  next: number;
}

/** A failed request: `status` 0 when the server could not be reached at all. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(detail);
  }
}

const KEY_STORAGE = "tether.apiKey";
const unauthorizedListeners = new Set<() => void>();

export function storedKey(): string | null {
  try {
    return localStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

export function storeKey(key: string | null): void {
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
}

/** Called whenever the server answers 401, so the app can ask for a key. */
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

function describe(body: unknown, status: number): string {
  const detail = (body as { detail?: unknown } | null)?.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((d: { loc?: unknown[]; msg?: string }) => `${d.loc?.join(".")}: ${d.msg}`).join("; ");
  }
  return `the server answered ${status}`;
}

/** The headers of a request to the API (for requests made elsewhere, e.g. in a worker). */
export function requestHeaders(key: string | null = storedKey()): Record<string, string> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  return headers;
}

async function request(path: string, key: string | null, signal?: AbortSignal): Promise<Response> {
  const headers = requestHeaders(key);
  try {
    return await fetch(`/api/v1${path}`, { headers, signal });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ApiError(0, "cannot reach the tether server; is it still running?");
  }
}

export async function get<T>(path: string, signal?: AbortSignal): Promise<T> {
  const key = storedKey();
  let response = (await takePrefetched(path)) ?? (await request(path, key, signal));
  // The early request knew no signal: a caller that gave up meanwhile gets what fetch gives.
  if (signal?.aborted) throw new DOMException("the request was aborted", "AbortError");
  if (response.status === 401 && key) {
    // A key kept from another server on this address: `tether ui` needs none, so try without.
    const keyless = await request(path, null, signal);
    if (keyless.status !== 401) {
      if (storedKey() === key) storeKey(null);
      response = keyless;
    }
  }
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    if (response.status === 401) unauthorizedListeners.forEach((listener) => listener());
    throw new ApiError(response.status, describe(body, response.status));
  }
  return (await response.json()) as T;
}

export const enc = encodeURIComponent;

export function runPath(project: string, run: string): string {
  return `/projects/${enc(project)}/runs/${enc(run)}`;
}

export function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === "AbortError";
}
