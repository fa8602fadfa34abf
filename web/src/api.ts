// The server's HTTP API (docs/api.md): typed responses, the API key, and errors as values.
import { takeFirstResponse } from "./firstAnswer";

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
  /** One of the server's states (RunPage.states lists them; tether/store/states.py). */
  state: string;
  /** Still going: the page refreshes it. The server says, so no page spells a state. */
  live: boolean;
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

/** A run state as the server lists it, and whether a run in it has ended. */
export interface RunState {
  name: string;
  terminal: boolean;
}

export interface RunPage {
  runs: Run[];
  total: number;
  /** Every state a run can have, in the server's order: the state filter's choices. */
  states: RunState[];
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

// The key is never kept by the page: signing in trades it once for the server's HttpOnly session
// cookie, which scripts cannot read. Writes echo the readable CSRF cookie in a header that
// another site's page cannot send.
const LEGACY_KEY_STORAGE = "tether.apiKey";
const CSRF_COOKIE = "tether_csrf";
const CSRF_HEADER = "X-Tether-CSRF";
const unauthorizedListeners = new Set<() => void>();

try {
  localStorage.removeItem(LEGACY_KEY_STORAGE); // a key an older version of this page kept
} catch {
  // storage unavailable: nothing was kept either
}

function csrfToken(): string {
  const cookie = document.cookie.split("; ").find((part) => part.startsWith(`${CSRF_COOKIE}=`));
  // `tether ui` sets no cookie; its writes need the header all the same.
  return cookie ? decodeURIComponent(cookie.slice(CSRF_COOKIE.length + 1)) : "local";
}

/** Trade an API key for a session cookie; the key itself is not kept anywhere. */
export async function signIn(key: string): Promise<void> {
  let response: Response;
  try {
    response = await fetch("/api/v1/session", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ key }),
    });
  } catch {
    throw new ApiError(0, "cannot reach the tether server; is it still running?");
  }
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    throw new ApiError(response.status, describe(body, response.status));
  }
}

/** End this browser's session. */
export async function signOut(): Promise<void> {
  await send("DELETE", "/session");
}

/** A write (POST, PATCH, PUT, DELETE) to the API, with the CSRF header. */
export async function send<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers = requestHeaders();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "cannot reach the tether server; is it still running?");
  }
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    if (response.status === 401) unauthorizedListeners.forEach((listener) => listener());
    throw new ApiError(response.status, describe(answer, response.status));
  }
  return answer as T;
}

/** Tells the app that the server answered 401 (for requests made outside this module). */
export function notifyUnauthorized(): void {
  unauthorizedListeners.forEach((listener) => listener());
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

/** The headers of a request to the API (for requests made elsewhere, e.g. in a worker); the
 * session cookie goes with every same-origin request by itself. */
export function requestHeaders(): Record<string, string> {
  return { Accept: "application/json", [CSRF_HEADER]: csrfToken() };
}

async function request(path: string, signal?: AbortSignal): Promise<Response> {
  const headers = requestHeaders();
  try {
    return await fetch(`/api/v1${path}`, { headers, signal });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ApiError(0, "cannot reach the tether server; is it still running?");
  }
}

export async function get<T>(path: string, signal?: AbortSignal): Promise<T> {
  const response = takeFirstResponse(path) ?? (await request(path, signal));
  if (signal?.aborted) throw new DOMException("the request was aborted", "AbortError");
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    if (response.status === 401) unauthorizedListeners.forEach((listener) => listener());
    throw new ApiError(response.status, describe(body, response.status));
  }
  return (await response.json()) as T;
}

export const enc = encodeURIComponent;

/** A namespace the signed-in user can read (`GET /owners`): its own, or a team's. */
export interface Owner {
  name: string;
  kind: "user" | "team";
  role: "viewer" | "member" | "admin";
  /** Where `/projects/...` (no owner) acts for this user. */
  default: boolean;
}

/** The path of a project, named "project" (the default namespace) or "owner/project": the
 * API's path under /api/v1, and the page's own URL, which mirrors it. */
export function projectPath(project: string): string {
  const slash = project.indexOf("/");
  if (slash < 0) return `/projects/${enc(project)}`;
  return `/owners/${enc(project.slice(0, slash))}/projects/${enc(project.slice(slash + 1))}`;
}

export function runPath(project: string, run: string): string {
  return `${projectPath(project)}/runs/${enc(run)}`;
}

export function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === "AbortError";
}
