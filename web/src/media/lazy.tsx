// The media components load as a separate chunk when a page first shows media, so the runs
// table and the charts load no byte of them.
import { type ComponentType, type FunctionComponent, h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Loading } from "../components";

/** `what` names the view in the placeholder and in errors; a view with no `what` shows nothing
 * until it has loaded (the compare page's images, which most comparisons do not have). */
function lazy<P extends object>(
  what: string | null,
  load: () => Promise<ComponentType<P>>,
): FunctionComponent<P> & { preload: () => void } {
  let loaded: ComponentType<P> | null = null;
  let loading: Promise<ComponentType<P>> | null = null;
  const Lazy = function Lazy(props: P) {
    const [, setReady] = useState(false);
    const [failed, setFailed] = useState<string | null>(null);
    useEffect(() => {
      if (loaded) return;
      loading ??= load();
      loading.then(
        (component) => {
          loaded = component;
          setReady(true);
        },
        (error: unknown) => {
          loading = null; // the next mount tries again
          setFailed(String(error));
        },
      );
    }, []);
    if (loaded) return h(loaded, props);
    if (failed)
      return (
        <div class="error-box">
          Could not load the {what ?? "media"} view: {failed}. Reload the page.
        </div>
      );
    return what ? <Loading what={what} /> : null;
  };
  /** Start loading now (while the page still waits for other data). */
  const preload = () => {
    loading ??= load();
    loading.catch(() => (loading = null));
  };
  return Object.assign(Lazy, { preload });
}

export const MediaTab = lazy("media", () => import("./MediaTab").then((m) => m.MediaTab));
export const CompareMedia = lazy(null, () => import("./CompareMedia").then((m) => m.CompareMedia));
