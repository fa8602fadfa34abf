// Fetches and parses console pages off the main thread: a 50,000-line page is megabytes of
// JSON, and parsing it on the main thread would stall scrolling while the console loads.
import type { ConsolePage } from "../api";
import { toColumns } from "./pages";

export interface FetchRequest {
  id: number;
  url: string;
  headers: Record<string, string>;
}

self.onmessage = async (event: MessageEvent<FetchRequest>) => {
  const { id, url, headers } = event.data;
  try {
    const response = await fetch(url, { headers });
    if (!response.ok) {
      postMessage({ id, failed: true });
      return;
    }
    const page = toColumns((await response.json()) as ConsolePage);
    const transfer = [page.writerOf.buffer, page.streamOf.buffer, page.timeOf.buffer];
    (self as unknown as Worker).postMessage({ id, page }, transfer);
  } catch {
    postMessage({ id, failed: true });
  }
};
