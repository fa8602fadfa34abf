// What the workspace asks for beside the table's pages: the project's keys (completion,
// group-by, columns), the runs the filter passes (panels, default columns, colours) and, when
// not grouped, their charts (one request, on a shared step axis).
import { useEffect, useLayoutEffect, useState } from "preact/hooks";
import { ApiError, type RunPage, isAbort } from "../api";
import { type ProjectKeys, type RunLines, fetchKeys, fetchRunLines, fetchRuns } from "./api";

/** The runs the charts and panels draw: the first ones in the table's order. */
const VISIBLE_LIMIT = 1000;

/** The workspace's other data, asked again after a bulk action. The visible runs and their
 * charts leave together, each needing only the filter: the charts never wait for the runs. */
export function useWorkspaceData(
  /** False until the table's first page came: that request goes first, alone. */
  go: boolean,
  project: string,
  query: { filter: string; order: string; search: string; state: string },
  refresh: number,
  /** Grouped: the charts draw the groups' lines instead (`Charts.tsx`). */
  grouped: boolean,
) {
  const [keys, setKeys] = useState<ProjectKeys | null>(null);
  const [visible, setVisible] = useState<RunPage | null>(null);
  const [lines, setLines] = useState<{ of: string; lines: RunLines | null; error: ApiError | null } | null>(null);
  // The keys wait for the visible runs' first answer: the charts need those sooner.
  const [settled, setSettled] = useState(false);
  useEffect(() => {
    if (!go || !settled) return;
    const controller = new AbortController();
    fetchKeys(project, controller.signal)
      .then(setKeys)
      .catch(() => undefined); // completion is a help: without it the box still filters
    return () => controller.abort();
  }, [go, settled, project, refresh]);
  // Layout effects: these requests leave right after the render, not after the next paint.
  useLayoutEffect(() => {
    if (!go) return;
    const controller = new AbortController();
    fetchRuns(project, { ...query, limit: VISIBLE_LIMIT }, controller.signal)
      .then(setVisible)
      .catch(() => undefined) // the table shows the error
      .finally(() => setSettled(true));
    return () => controller.abort();
  }, [go, project, query.filter, query.order, query.search, query.state, refresh]);
  const linesOf = JSON.stringify([project, query.filter, query.order, query.search, query.state, refresh]);
  useLayoutEffect(() => {
    if (!go || grouped) return;
    const controller = new AbortController();
    fetchRunLines(project, { ...query, limit: VISIBLE_LIMIT }, controller.signal)
      .then((answer) => setLines({ of: linesOf, lines: answer, error: null }))
      .catch((caught: unknown) => {
        if (isAbort(caught)) return;
        const error = caught instanceof ApiError ? caught : new ApiError(0, String(caught));
        setLines({ of: linesOf, lines: null, error });
      });
    return () => controller.abort();
  }, [go, grouped, linesOf]);
  // Lines of another query (the filter just changed) are not these runs' lines.
  const current = lines?.of === linesOf ? lines : null;
  return { keys, visible, lines: current?.lines ?? null, linesError: current?.error ?? null };
}
