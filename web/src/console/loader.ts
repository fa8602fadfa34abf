// Loads console pages: the first on the main thread (no worker start-up on the way to the
// first lines), the rest through a worker that fetches and parses them off the main thread.
import { type ConsolePage, get, requestHeaders } from "../api";
import FetchWorker from "./fetch.worker?worker";
import { type LineColumns, toColumns } from "./pages";

export class PageLoader {
  private worker: Worker | null = null;
  private waiting = new Map<number, (page: LineColumns | null) => void>();
  private ids = 0;

  /** `path` under /api/v1; errors (a 401 too) come from `get`, as everywhere else. */
  async load(path: string, signal: AbortSignal, { background = false } = {}): Promise<LineColumns> {
    const worker = background ? this.start() : null;
    if (worker) {
      const id = this.ids++;
      const page = await new Promise<LineColumns | null>((resolve) => {
        this.waiting.set(id, resolve);
        worker.postMessage({ id, url: `/api/v1${path}`, headers: requestHeaders() });
      });
      if (signal.aborted) throw new DOMException("aborted", "AbortError");
      if (page) return page;
      // The worker failed: ask again here, so the error is reported like any other.
    }
    return toColumns(await get<ConsolePage>(path, signal));
  }

  close(): void {
    this.worker?.terminate();
    this.worker = null;
    this.waiting.forEach((resolve) => resolve(null));
    this.waiting.clear();
  }

  private start(): Worker | null {
    if (this.worker || typeof Worker === "undefined") return this.worker;
    try {
      this.worker = new FetchWorker();
    } catch {
      return null; // no workers here: parse on the main thread
    }
    this.worker.onmessage = (event: MessageEvent<{ id: number; page?: LineColumns }>) => {
      const resolve = this.waiting.get(event.data.id);
      this.waiting.delete(event.data.id);
      resolve?.(event.data.page ?? null);
    };
    return this.worker;
  }
}
