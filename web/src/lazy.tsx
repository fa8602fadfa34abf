// Pages loaded on demand: the run and compare pages (uPlot, charts, the console) are chunks of
// their own, so the runs table, the page most visits start on, downloads and runs about half
// the script before its first rows.
import type { ComponentType } from "preact";
import { useState } from "preact/hooks";
import { Loading } from "./components";

export function lazyPage<P extends object>(load: () => Promise<ComponentType<P>>): ComponentType<P> {
  let loaded: ComponentType<P> | null = null;
  let pending: Promise<unknown> | null = null;
  return function LazyPage(props: P) {
    const [failed, setFailed] = useState(false);
    const [, setReady] = useState(false);
    // Asked for during the first render, not in an effect that waits for a paint.
    pending ??= load().then((page) => {
      loaded = page;
    });
    if (loaded === null) {
      pending.then(
        () => setReady(true),
        () => setFailed(true),
      );
    }
    const Page = loaded;
    if (Page) return <Page {...props} />;
    if (failed) {
      return (
        <div class="banner error">
          This page's script did not load (the server may have been updated): reload the page.
        </div>
      );
    }
    return <Loading what="the page" />;
  };
}
