// The server's media API (the media contract in docs/api.md): keys, items per step, steps, and
// blob URLs. Blobs load through plain same-origin GETs, so the session cookie authorises them
// like every other read and an <img> needs no script.
import { type Json, type WriterInfo, enc, get, runPath } from "../api";

export type MediaKind = "image" | "histogram" | "table" | "text";

/** `GET R/media/keys`: one entry per key that has media. */
export interface MediaKey {
  key: string;
  kind: MediaKind;
  count: number;
  min_step: number;
  max_step: number;
}

export interface ImageMeta {
  width: number;
  height: number;
  channels?: number;
  format?: "png" | "jpeg";
  caption?: string;
}

export interface HistogramMeta {
  counts: number[];
  /** counts.length + 1 edges; they may differ from step to step. */
  edges: number[];
  nan?: number;
  posinf?: number;
  neginf?: number;
  total?: number;
  min?: number | null;
  max?: number | null;
}

export interface TableMeta {
  columns: string[];
  n_rows: number;
  refs?: string[];
}

export interface TextMeta {
  format: "markdown" | "plain";
  chars: number;
}

/** `GET R/media?key=K`: one logged object. Histograms have no blob (no sha256). */
export interface MediaItem {
  key: string;
  step: number;
  index: number;
  writer: string;
  kind: MediaKind;
  sha256?: string;
  size?: number;
  media_type?: string;
  meta: Record<string, Json>;
  time: number;
}

/** An image inside a table's JSON blob (its bytes are a blob of their own). */
export interface ImageCell {
  _type: "image";
  sha256: string;
  media_type?: string;
  width?: number;
  height?: number;
  caption?: string;
}

export interface TableBlob {
  columns: string[];
  data: Json[][];
}

/** How often a live run's media are asked for again. */
export const MEDIA_POLL_MS = 5000;

/** What every media panel of the run page is given. */
export interface PanelProps {
  project: string;
  run: string;
  mediaKey: string;
  writers: WriterInfo[];
  /** The run is still going: the panel asks again every MEDIA_POLL_MS. */
  live?: boolean;
  /** The key's newest step, when known (media/keys says it). */
  newest?: number | null;
  /** How many items the key has, when known (media/keys' count). */
  count?: number;
}

export function mediaKeysPath(project: string, run: string): string {
  return `${runPath(project, run)}/media/keys`;
}

export function mediaStepsPath(project: string, run: string, key: string): string {
  return `${runPath(project, run)}/media/steps?key=${enc(key)}`;
}

/** Items asked for in one request (the server gives up to 10,000). */
export const MEDIA_PAGE = 2_000;
/** The most items of one key the UI reads (a histogram's steps, a table's versions). */
export const MEDIA_MAX_ITEMS = 200_000;

/** Items of a key: at one step, or all steps when `step` is null; a page of MEDIA_PAGE. */
export function mediaPath(project: string, run: string, key: string, step: number | null, offset = 0): string {
  const at = step === null ? "" : `&step=${step}`;
  const from = offset ? `&offset=${offset}` : "";
  return `${runPath(project, run)}/media?key=${enc(key)}${at}&limit=${MEDIA_PAGE}${from}`;
}

/** Every item of a key (all steps), up to MEDIA_MAX_ITEMS: the pages that `expected` items
 * fill are asked for at once, then more one by one while the last page comes back full (a
 * live run has logged more since `expected` was counted). */
export async function allMediaItems(
  project: string,
  run: string,
  key: string,
  expected: number,
  signal?: AbortSignal,
): Promise<MediaItem[]> {
  const page = (offset: number) => get<MediaItem[]>(mediaPath(project, run, key, null, offset), signal);
  const first = Math.max(1, Math.ceil(Math.min(expected, MEDIA_MAX_ITEMS) / MEDIA_PAGE));
  const pages = await Promise.all(Array.from({ length: first }, (_, i) => page(i * MEDIA_PAGE)));
  let offset = first * MEDIA_PAGE;
  while (pages[pages.length - 1].length === MEDIA_PAGE && offset < MEDIA_MAX_ITEMS) {
    pages.push(await page(offset));
    offset += MEDIA_PAGE;
  }
  return pages.flat();
}

export function blobUrl(project: string, run: string, sha256: string): string {
  return `/api/v1${runPath(project, run)}/blobs/${enc(sha256)}`;
}

export function mediaKeys(project: string, run: string, signal?: AbortSignal): Promise<MediaKey[]> {
  return get<MediaKey[]>(mediaKeysPath(project, run), signal);
}

export function mediaSteps(project: string, run: string, key: string, signal?: AbortSignal): Promise<number[]> {
  return get<number[]>(mediaStepsPath(project, run, key), signal);
}

/** A blob's text (tables' JSON, markdown): the same URL as images, read by fetch. */
export async function blobText(project: string, run: string, sha256: string, signal?: AbortSignal): Promise<string> {
  const response = await fetch(blobUrl(project, run, sha256), { signal });
  if (!response.ok) throw new Error(`the server answered ${response.status} for blob ${sha256.slice(0, 12)}`);
  return response.text();
}

/** Writers are named by id in media items; show the run's label for it where there is one. */
export function writerLabeller(writers: WriterInfo[]): (writer: string) => string {
  const labels = new Map<string, string>();
  for (const w of writers) labels.set(w.id, w.label);
  return (writer) => labels.get(writer) ?? writer;
}

/** Writers in the UI's order: main first, then by label with numbers in numeric order (as the run
 * page orders chart lines; kept here so media does not import a page). */
export const labelOrder = (a: string, b: string) =>
  a === "main" ? -1 : b === "main" ? 1 : a.localeCompare(b, undefined, { numeric: true });

export function isImageCell(value: unknown): value is ImageCell {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { _type?: unknown })._type === "image" &&
    typeof (value as { sha256?: unknown }).sha256 === "string"
  );
}
