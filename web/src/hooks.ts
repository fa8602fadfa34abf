import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { ApiError, get, isAbort } from "./api";

export interface Resource<T> {
  data: T | null;
  error: ApiError | null;
  reload: () => void;
}

/**
 * GET `path` (null: nothing to fetch); with `pollMs`, again every `pollMs` while `poll` holds.
 * The last good data stays while a refresh fails, so a flaky server blinks a banner, not a page.
 */
export function useResource<T>(
  path: string | null,
  { pollMs = 0, poll = () => false }: { pollMs?: number; poll?: (data: T) => boolean } = {},
): Resource<T> {
  // Results are tagged with their path, so a new path never shows the previous one's data.
  const [state, setState] = useState<{ path: string | null; data: T | null; error: ApiError | null }>({
    path: null,
    data: null,
    error: null,
  });
  const [tick, setTick] = useState(0);
  const pollRef = useRef(poll);
  pollRef.current = poll;

  // A layout effect: the request leaves right after this render, not after the next paint.
  useLayoutEffect(() => {
    if (path === null) return;
    const controller = new AbortController();
    let timer = 0;
    const load = async () => {
      try {
        const value = await get<T>(path, controller.signal);
        setState({ path, data: value, error: null });
        if (pollMs && pollRef.current(value)) timer = window.setTimeout(load, pollMs);
      } catch (caught) {
        if (isAbort(caught)) return;
        const error = caught instanceof ApiError ? caught : new ApiError(0, String(caught));
        setState((old) => ({ path, data: old.path === path ? old.data : null, error }));
        // Keep trying while live: the server may come back.
        if (pollMs && error.status === 0) timer = window.setTimeout(load, pollMs);
      }
    };
    load();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [path, tick, pollMs]);

  const mine = state.path === path;
  const data = mine ? state.data : null;
  const error = mine ? state.error : null;
  return { data, error, reload: () => setTick((t) => t + 1) };
}

/** The element's content-box width, kept up to date. */
export function useWidth<E extends HTMLElement>(): [preact.RefObject<E | null>, number] {
  const ref = useRef<E>(null);
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    setWidth(element.clientWidth);
    const observer = new ResizeObserver(() => setWidth(element.clientWidth));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return [ref, width];
}

/** True once the element is within a screen of the viewport (then stays true). */
export function useNearViewport<E extends HTMLElement>(margin = "100% 0px"): [preact.RefObject<E | null>, boolean] {
  const ref = useRef<E>(null);
  const [near, setNear] = useState(false);
  useEffect(() => {
    const element = ref.current;
    if (!element || near) return;
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) {
          setNear(true);
          observer.disconnect();
        }
      },
      { rootMargin: margin },
    );
    observer.observe(element);
    return () => observer.disconnect();
  }, [near, margin]);
  return [ref, near];
}

export function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}
