// Named views of a project (GET/PUT/DELETE P/views): a view is the URL's view parameters
// (state.ts's VIEW_PARAMS), so opening one is navigating to its URL.
import { useEffect, useState } from "preact/hooks";
import { ApiError, projectPath } from "../api";
import { navigate } from "../router";
import { type SavedView, deleteView, fetchViews, saveView } from "./api";
import { viewState } from "./state";

export function Views({ project, current }: { project: string; current: string }) {
  const [views, setViews] = useState<SavedView[] | null>(null);
  const [naming, setNaming] = useState(false);
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    fetchViews(project, controller.signal)
      .then(setViews)
      .catch((caught: unknown) => {
        if (caught instanceof ApiError) setError(caught.status === 404 ? null : caught.detail);
      });
    return () => controller.abort();
  }, [project, tick]);

  const open = (view: SavedView | undefined) => {
    const params = new URLSearchParams(view ? view.state : {});
    if (view) params.set("view", view.name);
    const text = params.toString();
    navigate(`${projectPath(project)}${text ? `?${text}` : ""}`);
  };

  const save = async () => {
    const chosen = name.trim();
    if (!chosen) return;
    try {
      await saveView(project, chosen, viewState(new URLSearchParams(location.search)));
      setNaming(false);
      setError(null);
      setTick((t) => t + 1);
      const params = new URLSearchParams(location.search);
      params.set("view", chosen);
      navigate(`${projectPath(project)}?${params}`, { replace: true });
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.detail : String(caught));
    }
  };

  const remove = async () => {
    try {
      await deleteView(project, current);
      setTick((t) => t + 1);
      open(undefined);
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.detail : String(caught));
    }
  };

  return (
    <span class="views" data-views={views?.length ?? 0}>
      <select
        aria-label="view"
        value={current}
        onChange={(e) => open(views?.find((v) => v.name === (e.target as HTMLSelectElement).value))}
      >
        <option value="">{current && !views?.some((v) => v.name === current) ? current : "default view"}</option>
        {(views ?? []).map((view) => (
          <option value={view.name}>{view.name}</option>
        ))}
      </select>
      {naming ? (
        <form
          class="inline-form"
          onSubmit={(event) => {
            event.preventDefault();
            save();
          }}
        >
          <input
            aria-label="view name"
            placeholder="view name"
            value={name}
            onInput={(e) => setName((e.target as HTMLInputElement).value)}
            autoFocus
          />
          <button type="submit" class="primary">
            Save
          </button>
          <button type="button" class="link" onClick={() => setNaming(false)}>
            cancel
          </button>
        </form>
      ) : (
        <button
          onClick={() => {
            setName(current);
            setNaming(true);
          }}
        >
          Save view…
        </button>
      )}
      {current && views?.some((v) => v.name === current) && (
        <button class="link" title={`delete the view ${current}`} onClick={remove}>
          delete view
        </button>
      )}
      {error && (
        <span class="bulk-error" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}
