// What the workspace asks for beside the table's pages: the project's keys (completion,
// group-by, columns) and the runs the filter passes (charts, panels, default columns).
import { useEffect, useState } from "preact/hooks";
import type { RunPage } from "../api";
import { type ProjectKeys, fetchKeys, fetchRuns } from "./api";

/** The runs the charts and panels draw: the first ones in the table's order. */
const VISIBLE_LIMIT = 1000;

/** The workspace's other data: the project's keys (completion, group-by, columns) and the runs
 * the filter passes (charts, panels, default columns), asked again after a bulk action. */
export function useWorkspaceData(
  /** False until the table's first page came: that request goes first, alone. */
  go: boolean,
  project: string,
  query: { filter: string; order: string; search: string; state: string },
  refresh: number,
) {
  const [keys, setKeys] = useState<ProjectKeys | null>(null);
  const [visible, setVisible] = useState<RunPage | null>(null);
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
  useEffect(() => {
    if (!go) return;
    const controller = new AbortController();
    fetchRuns(project, { ...query, limit: VISIBLE_LIMIT }, controller.signal)
      .then(setVisible)
      .catch(() => undefined) // the table shows the error
      .finally(() => setSettled(true));
    return () => controller.abort();
  }, [go, project, query.filter, query.order, query.search, query.state, refresh]);
  return { keys, visible };
}
