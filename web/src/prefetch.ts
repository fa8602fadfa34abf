// The response to the first API request, which index.html's inline script sent before the
// app's script had loaded. The app's first request takes it if it asks for the same path, and
// drops it otherwise, so it is never handed out later, stale.

interface Prefetch {
  path: string;
  response: Promise<Response>;
}

declare global {
  interface Window {
    __tetherPrefetch?: Prefetch;
  }
}

/** The early response to `path`, or null (none, another path, already dropped, or failed). */
export async function takePrefetched(path: string): Promise<Response | null> {
  const early = window.__tetherPrefetch;
  window.__tetherPrefetch = undefined;
  if (!early || early.path !== path) return null;
  try {
    return await early.response;
  } catch {
    return null; // the network failed then: ask again, as if nothing had been sent
  }
}
