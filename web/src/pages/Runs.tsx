// The project workspace: the runs table (sorted, filtered and paged on the server; only the
// rows in view exist in the DOM, and pages are fetched as they scroll into view, so 10,000 runs
// scroll like 10), or its groups, and below it the charts and panels of every run the filter
// passes (web/src/workspace/). The whole view lives in the URL (workspace/state.ts).
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, type Run, type RunPage, type RunState, enc, isAbort, projectPath } from "../api";
import { ErrorBox } from "../components";
import { colour } from "../format";
import { takeFirstAnswer } from "../firstAnswer";
import { useDebounced } from "../hooks";
import { navigate } from "../router";
import { type FilterProblem, FilterError, fetchJson, runsParams } from "../workspace/api";
import { useWorkspaceData } from "../workspace/data";
import { BulkActions } from "../workspace/Bulk";
import { FilterBox } from "../workspace/FilterBox";
import { GroupBy, GroupTable, useGroups } from "../workspace/Groups";
import { Highlight, markRow } from "../workspace/highlight";
import { Unchanged, WorkspacePanels } from "../workspace/Panels";
import { andClause, effectiveFilter, readWorkspace } from "../workspace/state";
import { Views } from "../workspace/Views";
import { columnKeys, differingFields } from "../workspace/values";
import "../workspace/workspace.css";
import {
  type Column,
  ColumnPicker,
  RunRow,
  baseColumns,
  customColumn,
  defaultBaseColumns,
  minimalCols,
  shownColumns,
  storePrefs,
  storedPrefs,
} from "./RunsColumns";

const ROW = 34;
const PAGE = 100;
const OVERSCAN = 10;
const FIRST_OVERSCAN = 2;
const LIVE_MS = 3000;
const IDLE_REFRESH_MS = 15_000;
const NO_RUNS: Run[] = [];

/** Pages of one query (order, search, state); thrown away when the query changes. */
class PageCache {
  pages = new Map<number, Run[]>();
  loading = new Set<number>();
  total: number | null = null;
  states: RunState[] = [];
  error: ApiError | null = null;
  constructor(readonly query: string) {}

  /** Keep a page the server answered. */
  fill(page: number, answer: RunPage): void {
    this.pages.set(page, answer.runs);
    this.total = answer.total;
    this.states = answer.states;
    this.error = null;
  }
}

/** A query's pages, starting with its first page if the server put it into the page. */
function newPageCache(query: string): PageCache {
  const cache = new PageCache(query);
  const early = takeFirstAnswer(`${query}&offset=0`) as RunPage | undefined;
  if (early) cache.fill(0, early);
  return cache;
}

export function RunsPage({ project, query }: { project: string; query: URLSearchParams }) {
  const order = query.get("order") ?? "-start_time";
  const state = query.get("state") ?? "";
  const ws = readWorkspace(query);
  const [searchInput, setSearchInput] = useState(query.get("search") ?? "");
  const search = useDebounced(searchInput, 250);
  const prefs = query.has("cols") || query.has("hidden") ? { cols: ws.cols, hidden: ws.hidden } : storedPrefs(project);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [refresh, setRefresh] = useState(0);
  const [notice, setNotice] = useState<string | null>(null);
  const [isolated, setIsolated] = useState<string | null>(null);
  const highlight = useMemo(() => new Highlight(), []);
  const { text: filter, offset: filterOffset } = effectiveFilter(ws.filter, ws.brush);
  // In this order: the server embeds the answer to this first page (server/first_answer.py).
  const params = runsParams({ filter, order, limit: PAGE, search, state });
  const queryKey = `${projectPath(project)}/runs?${params}`;
  const cache = useMemo(() => newPageCache(queryKey), [queryKey, refresh]);
  // The charts' requests (a thousand runs and their lines) leave once the table's first rows
  // are on screen: on a machine that also runs the server, their work slowed that first paint.
  const [tableShown, setTableShown] = useState(false);
  const settled = cache.total !== null || cache.error !== null;
  useEffect(() => {
    if (settled) setTableShown(true); // an effect: it runs after the paint
  }, [settled]);
  const {
    keys: projectKeys,
    visible,
    lines,
    linesError,
  } = useWorkspaceData(tableShown, project, { filter: ws.filter, order, search, state }, refresh, ws.group.length > 0);
  const grouped = useGroups(project, ws.group, filter);
  const [, setVersion] = useState(0);
  const [scrollTop, setScrollTop] = useState(0);
  // Before any layout, the table's height is what workspace.css allows it (42vh at most), so
  // the first render makes only the rows in view, and a few more; the rows beyond, for
  // scrolling, come after the first paint: a fresh tab styles and lays out each row cold.
  const [viewHeight, setViewHeight] = useState(() => Math.ceil(window.innerHeight * 0.42));
  const [overscan, setOverscan] = useState(FIRST_OVERSCAN);
  useEffect(() => {
    setOverscan(OVERSCAN);
  }, []);
  const scroller = useRef<HTMLDivElement>(null);
  const scrolledTo = useRef(0);
  const pageRef = useRef<HTMLDivElement>(null);

  // Keep the URL in step with the view, so every table state is a link.
  const setQuery = (changes: Record<string, string | null>) => {
    const next = new URLSearchParams(location.search);
    for (const [key, value] of Object.entries(changes)) {
      if (value) next.set(key, value);
      else next.delete(key);
    }
    const text = next.toString();
    navigate(`${projectPath(project)}${text ? `?${text}` : ""}`, { replace: true });
  };
  useEffect(() => {
    if ((query.get("search") ?? "") !== search) setQuery({ search: search || null });
  }, [search]);
  useEffect(() => {
    if (ws.legacy) setQuery({ filter: ws.filter, group: ws.group.join(",") || null, tag: null });
  }, [ws.legacy]);

  const controller = useMemo(() => new AbortController(), [cache]);
  useEffect(() => () => controller.abort(), [controller]);

  const fetchPage = async (page: number, refresh = false) => {
    if (cache.loading.has(page) || (!refresh && cache.pages.has(page))) return;
    cache.loading.add(page);
    try {
      cache.fill(page, await fetchJson<RunPage>(`${cache.query}&offset=${page * PAGE}`, controller.signal));
    } catch (caught) {
      if (isAbort(caught)) return;
      cache.error = caught instanceof ApiError ? caught : new ApiError(0, String(caught));
    } finally {
      cache.loading.delete(page);
    }
    setVersion((v) => v + 1);
  };

  // A layout effect: the request leaves right after this render, not after the next paint.
  // A new order or filter starts at the top; scrollTo only when scrolled, as it forces a
  // layout (tens of ms before a fresh table's first paint).
  useLayoutEffect(() => {
    fetchPage(0);
    if (scrolledTo.current !== 0) scroller.current?.scrollTo(0, 0);
    scrolledTo.current = 0;
    setScrollTop(0);
  }, [cache]);

  useEffect(() => {
    const element = scroller.current;
    if (!element) return;
    const observer = new ResizeObserver(() => setViewHeight(element.clientHeight));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  // While another order or filter loads, the previous rows stay on screen (no placeholder flash).
  const lastShown = useRef<PageCache | null>(null);
  if (cache.total !== null) lastShown.current = cache;
  const shown = cache.total !== null ? cache : (lastShown.current ?? cache);
  const total = shown.total ?? 0;
  const first = Math.max(0, Math.floor(scrollTop / ROW) - overscan);
  const last = Math.min(total, Math.ceil((scrollTop + viewHeight) / ROW) + overscan);
  const firstPage = Math.floor(first / PAGE);
  const lastPage = Math.floor(Math.max(first, last - 1) / PAGE);

  useEffect(() => {
    if (cache.total === null) return;
    for (let page = firstPage; page <= lastPage; page++) fetchPage(page);
  }, [cache, firstPage, lastPage, cache.total]);

  // Live: the pages in view refresh every few seconds while a run in view is running, and
  // now and then otherwise (new runs appear, e.g. under `tether ui`).
  const visibleRuns: Run[] = [];
  for (let page = firstPage; page <= lastPage; page++) visibleRuns.push(...(shown.pages.get(page) ?? []));
  const anyRunning = visibleRuns.some((run) => run.live);
  useEffect(() => {
    const timer = setInterval(
      () => {
        if (document.hidden) return;
        for (let page = firstPage; page <= lastPage; page++) fetchPage(page, true);
      },
      anyRunning ? LIVE_MS : IDLE_REFRESH_MS,
    );
    return () => clearInterval(timer);
  }, [anyRunning, cache, firstPage, lastPage]);

  // Default columns: the config and summary keys whose values differ between the runs shown.
  const firstPage0 = shown.pages.get(0);
  const sample = useMemo(() => visible?.runs ?? firstPage0 ?? NO_RUNS, [visible, firstPage0]);
  const differing = useMemo(() => differingFields(sample), [sample]);
  // The filter from the URL at the click, not from this render: rows skip re-rendering, so a
  // row's tag or group link may hold an older render's closure.
  const base = baseColumns(project, (clause) =>
    setQuery({ filter: andClause(readWorkspace(new URLSearchParams(location.search)).filter, clause) }),
  );
  const keyColumns = useMemo(() => columnKeys(projectKeys, sample), [projectKeys, sample]);
  const defaults = [...defaultBaseColumns(sample), ...differing.config.slice(0, 12), ...differing.summary.slice(0, 12)];
  const shownIds = shownColumns(defaults, prefs);
  const byId = new Map(base.map((c) => [c.id, c]));
  const columns = shownIds.map((id) => byId.get(id) ?? customColumn(id));
  const template = `36px ${columns.map((c) => `${c.width}px`).join(" ")}`;
  const width = 36 + columns.reduce((sum, c) => sum + c.width, 0);

  const chooseColumns = (chosen: string[], hidden: string[]) => {
    const next = { cols: minimalCols(defaults, chosen), hidden: hidden.filter((h) => defaults.includes(h)) };
    storePrefs(project, next);
    setQuery({ cols: next.cols.join(",") || null, hidden: next.hidden.join(",") || null });
  };

  // Colours: a run's line in the charts and its row share the run's place among the charted runs.
  const colourIndex = useMemo(() => new Map((visible?.runs ?? []).map((run, i) => [run.id, i])), [visible]);
  const colourOf = (id: string) => colourIndex.get(id) ?? 0;
  const groupIndex = useMemo(() => new Map((grouped.groups ?? []).map((g, i) => [g.label, i])), [grouped.groups]);

  // Hover: a line in a chart marks its row; a row hovered brings its line forward.
  useEffect(() => highlight.subscribe((id) => markRow(pageRef.current, id)), [highlight]);
  const hoverRow = (event: MouseEvent) => {
    const row = (event.target as Element).closest?.(".runs-row[data-run]") as HTMLElement | null;
    highlight.set(row?.dataset.run ?? null);
  };
  const problem: FilterProblem | null =
    cache.error instanceof FilterError
      ? { ...cache.error.problem, position: Math.max(0, cache.error.problem.position - filterOffset) }
      : null;

  const sortBy = (column: Column) => {
    if (!column.order) return;
    const current = order.replace(/^-/, "");
    const next =
      current === column.order
        ? order.startsWith("-")
          ? column.order
          : `-${column.order}`
        : column.order === "name"
          ? "name"
          : `-${column.order}`;
    setQuery({ order: next === "-start_time" ? null : next });
  };

  // Functional update: rows skip re-rendering, so their handler may be from an older render.
  const toggle = (id: string) =>
    setSelected((old) => {
      const next = new Set(old);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  const rows = [];
  for (let i = first; i < last; i++) {
    const run = shown.pages.get(Math.floor(i / PAGE))?.[i % PAGE];
    rows.push(
      run ? (
        <RunRow
          key={run.id}
          run={run}
          top={i * ROW}
          columns={columns}
          template={template}
          selected={selected.has(run.id)}
          colour={colourIndex.has(run.id) ? colour(colourOf(run.id)) : undefined}
          onToggle={toggle}
        />
      ) : (
        <div class="runs-row placeholder" key={`p${i}`} style={{ top: `${i * ROW}px`, gridTemplateColumns: template }}>
          <span />
          <span class="muted">…</span>
        </div>
      ),
    );
  }

  const ready = cache.total !== null && (total === 0 || cache.pages.has(firstPage));
  const filtered = Boolean(search || state || filter);
  const tableHeight = (total + 1) * ROW + 20; // the rows, the head, a horizontal scrollbar (up to 42vh)
  const onBulkDone = (message: string) => {
    setNotice(message);
    setSelected(new Set());
    setRefresh((r) => r + 1);
  };
  return (
    <div class="runs-page workspace-page" data-filter={filter} ref={pageRef}>
      <div class="toolbar">
        <h1 class="inline">{project}</h1>
        <FilterBox
          value={ws.filter}
          keys={projectKeys}
          problem={problem}
          onApply={(text) => setQuery({ filter: text || null })}
        />
        <input
          type="search"
          class="search"
          placeholder="search run names"
          value={searchInput}
          onInput={(e) => setSearchInput((e.target as HTMLInputElement).value)}
        />
        <select
          aria-label="state"
          value={state}
          onChange={(e) => setQuery({ state: (e.target as HTMLSelectElement).value || null })}
        >
          <option value="">any state</option>
          {stateChoices(shown.states, state).map((s) => (
            <option value={s}>{s}</option>
          ))}
        </select>
        <GroupBy keys={projectKeys} value={ws.group} onChange={(by) => setQuery({ group: by.join(",") || null })} />
        <ColumnPicker all={[...base.map((c) => c.id), ...keyColumns]} shown={shownIds} onChange={chooseColumns} />
        {/* Once runs came: with the server gone, the page says so once, not again here. */}
        {shown.total !== null && <Views project={project} current={ws.view} />}
        <span class="muted runs-count">
          {shown.total === null ? "" : `${total.toLocaleString()} ${total === 1 ? "run" : "runs"}`}
          {shown !== cache && " (loading…)"}
        </span>
      </div>
      <div class="toolbar selection-bar">
        <BulkActions project={project} selected={[...selected]} onDone={onBulkDone} />
        {notice && (
          <span class="notice" role="status">
            {notice}
          </span>
        )}
        <span class="spacer" />
        {selected.size > 0 && (
          <button class="link" onClick={() => setSelected(new Set())}>
            clear selection
          </button>
        )}
        <button
          class="primary"
          disabled={selected.size < 2}
          title={selected.size < 2 ? "Select two runs or more" : ""}
          onClick={() => navigate(`${projectPath(project)}/compare?runs=${[...selected].map(enc).join(",")}`)}
        >
          Compare{selected.size ? ` (${selected.size})` : ""}
        </button>
      </div>
      {cache.error && cache.total === null && !problem && (
        <ErrorBox error={cache.error} what="runs" retry={() => fetchPage(0, true)} />
      )}
      {cache.error && cache.total !== null && !problem && (
        <div class="banner error">Refresh failed: {cache.error.detail}</div>
      )}
      {grouped.error && <ErrorBox error={grouped.error} what="the groups" />}
      {ws.group.length > 0 ? (
        <GroupTable
          project={project}
          by={ws.group}
          groups={grouped.groups}
          summaryKeys={differing.summary.slice(0, 8).map((k) => k.slice("summary.".length))}
          highlight={highlight}
        />
      ) : (
        <div
          class="runs-scroll"
          ref={scroller}
          onScroll={(e) => {
            scrolledTo.current = (e.target as HTMLElement).scrollTop;
            setScrollTop(scrolledTo.current);
          }}
          onMouseOver={hoverRow}
          onMouseLeave={() => highlight.set(null)}
          data-ready={ready ? "1" : "0"}
          data-order={order}
          data-total={total}
          style={{ height: `${tableHeight}px` }}
        >
          <div class="runs-head" style={{ gridTemplateColumns: template, minWidth: `${width}px` }}>
            <span />
            {columns.map((column) => {
              const active = order.replace(/^-/, "") === column.order;
              return (
                <span
                  class={`${column.order ? "sortable" : ""} ${active ? "sorted" : ""} ${column.numeric ? "num" : ""}`}
                  onClick={() => sortBy(column)}
                  title={column.order ? `sort by ${column.label}` : ""}
                  data-column={column.id}
                >
                  {column.label}
                  {active && (order.startsWith("-") ? " ▼" : " ▲")}
                </span>
              );
            })}
          </div>
          <div class="runs-body" style={{ height: `${total * ROW}px`, minWidth: `${width}px` }}>
            {rows}
          </div>
          {ready && total === 0 && (
            <div class="empty">{filtered ? "No run matches these filters." : "No runs in this project yet."}</div>
          )}
        </div>
      )}
      {visible && visible.runs.length > 0 && (
        <Unchanged
          deps={[query.toString(), visible, lines, linesError, grouped.groups, projectKeys, isolated, keyColumns]}
        >
          <WorkspacePanels
            project={project}
            ws={ws}
            runs={visible.runs}
            total={visible.total}
            lines={lines}
            linesError={linesError}
            filter={filter}
            configKeys={keyColumns.filter((k) => k.startsWith("config."))}
            summaryKeys={keyColumns.filter((k) => k.startsWith("summary."))}
            colourOf={colourOf}
            groupColour={(label) => groupIndex.get(label)}
            highlight={highlight}
            isolated={isolated}
            onIsolate={setIsolated}
            setQuery={setQuery}
          />
        </Unchanged>
      )}
    </div>
  );
}

/** The state filter's choices: the server's states (none until its first answer), and the
 * state in the URL even if the server does not know it, so the select shows what filters. */
function stateChoices(states: RunState[], current: string): string[] {
  const names = states.map((s) => s.name);
  return current && !names.includes(current) ? [...names, current] : names;
}
