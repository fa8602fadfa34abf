// Every item of one key (all its steps), fetched page by page, and again every few seconds
// while the run is live: what the histogram, table and text panels read.
import { useLayoutEffect, useRef, useState } from "preact/hooks";
import { ApiError, isAbort } from "../api";
import type { Resource } from "../hooks";
import { MEDIA_POLL_MS, type MediaItem, allMediaItems } from "./api";

export function useAllItems(
  project: string,
  run: string,
  key: string,
  { live, count }: { live: boolean; count: number },
): Resource<MediaItem[]> {
  const source = `${project}\u0000${run}\u0000${key}`;
  const [state, setState] = useState<{ source: string; data: MediaItem[] | null; error: ApiError | null }>({
    source: "",
    data: null,
    error: null,
  });
  const [tick, setTick] = useState(0);
  const liveRef = useRef(live);
  liveRef.current = live;
  // The count only sizes the first requests: a new count does not fetch again.
  const countRef = useRef(count);
  countRef.current = Math.max(count, state.data?.length ?? 0);
  useLayoutEffect(() => {
    const controller = new AbortController();
    let timer = 0;
    const load = async () => {
      try {
        const data = await allMediaItems(project, run, key, countRef.current, controller.signal);
        setState({ source, data, error: null });
      } catch (caught) {
        if (isAbort(caught)) return;
        const error = caught instanceof ApiError ? caught : new ApiError(0, String(caught));
        // The last good items stay while a refresh fails.
        setState((old) => ({ source, data: old.source === source ? old.data : null, error }));
      }
      if (liveRef.current && !controller.signal.aborted) timer = window.setTimeout(load, MEDIA_POLL_MS);
    };
    load();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [source, tick]);
  const mine = state.source === source;
  return {
    data: mine ? state.data : null,
    error: mine ? state.error : null,
    reload: () => setTick((t) => t + 1),
  };
}
