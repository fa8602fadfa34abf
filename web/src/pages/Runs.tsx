// The runs table: sorted, filtered and paged on the server; only the rows in view exist in the
// DOM, and pages are fetched as they scroll into view, so 10,000 runs scroll like 10.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, type Run, type RunPage, type RunState, enc, get, isAbort, projectPath } from "../api";
import { ErrorBox } from "../components";
import { useDebounced } from "../hooks";
import { navigate } from "../router";
import { type Column, ColumnPicker, RunRow, baseColumns, customColumn, storedColumns } from "./RunsColumns";

const ROW = 34;
const PAGE = 100;
const OVERSCAN = 10;
const LIVE_MS = 3000;
const IDLE_REFRESH_MS = 15_000;

/** Pages of one query (order, search, state); thrown away when the query changes. */
class PageCache {
  pages = new Map<number, Run[]>();
  loading = new Set<number>();
  total: number | null = null;
  states: RunState[] = [];
  error: ApiError | null = null;
  constructor(readonly query: string) {}
}

export function RunsPage({ project, query }: { project: string; query: URLSearchParams }) {
  const order = query.get("order") ?? "-start_time";
  const state = query.get("state") ?? "";
  const group = query.get("group") ?? "";
  const tag = query.get("tag") ?? "";
  const [searchInput, setSearchInput] = useState(query.get("search") ?? "");
  const search = useDebounced(searchInput, 250);
  const [extra, setExtra] = useState<string[]>(() =>
    query.has("cols") ? (query.get("cols") ?? "").split(",").filter(Boolean) : storedColumns(project),
  );
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [version, setVersion] = useState(0);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewHeight, setViewHeight] = useState(800);
  const scroller = useRef<HTMLDivElement>(null);
  const scrolledTo = useRef(0);

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

  const params = new URLSearchParams({ order, limit: String(PAGE) });
  if (search) params.set("search", search);
  if (state) params.set("state", state);
  if (group) params.set("group", group);
  if (tag) params.set("tag", tag);
  const queryKey = `${projectPath(project)}/runs?${params}`;
  const cache = useMemo(() => new PageCache(queryKey), [queryKey]);
  const controller = useMemo(() => new AbortController(), [cache]);
  useEffect(() => () => controller.abort(), [controller]);

  const fetchPage = async (page: number, refresh = false) => {
    if (cache.loading.has(page) || (!refresh && cache.pages.has(page))) return;
    cache.loading.add(page);
    try {
      const result = await get<RunPage>(`${cache.query}&offset=${page * PAGE}`, controller.signal);
      cache.pages.set(page, result.runs);
      cache.total = result.total;
      cache.states = result.states;
      cache.error = null;
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
  const first = Math.max(0, Math.floor(scrollTop / ROW) - OVERSCAN);
  const last = Math.min(total, Math.ceil((scrollTop + viewHeight) / ROW) + OVERSCAN);
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

  const keys = useMemo(() => {
    const seen = new Set<string>();
    for (const runs of cache.pages.values()) {
      for (const run of runs) {
        for (const key of Object.keys(run.config)) seen.add(`config.${key}`);
        for (const key of Object.keys(run.summary)) seen.add(`summary.${key}`);
        for (const key of Object.keys(run.environment ?? {})) seen.add(`environment.${key}`);
      }
    }
    return [...seen].sort();
  }, [cache, version]);

  const chooseColumns = (columns: string[]) => {
    setExtra(columns);
    localStorage.setItem(`tether.columns.${project}`, JSON.stringify(columns));
    setQuery({ cols: columns.join(",") || null });
  };

  const columns = [...baseColumns(project, (field, value) => setQuery({ [field]: value })), ...extra.map(customColumn)];
  const template = `36px ${columns.map((c) => `${c.width}px`).join(" ")}`;
  const width = 36 + columns.reduce((sum, c) => sum + c.width, 0);

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
  return (
    <div class="runs-page">
      <div class="toolbar">
        <h1 class="inline">{project}</h1>
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
        {group && (
          <button class="filter-chip" title="remove this filter" onClick={() => setQuery({ group: null })}>
            group: {group} ×
          </button>
        )}
        {tag && (
          <button class="filter-chip" title="remove this filter" onClick={() => setQuery({ tag: null })}>
            tag: {tag} ×
          </button>
        )}
        <ColumnPicker keys={keys} chosen={extra} onChange={chooseColumns} />
        <span class="muted">
          {shown.total === null ? "" : `${total.toLocaleString()} runs`}
          {shown !== cache && " (loading…)"}
        </span>
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
      {cache.error && cache.total === null && (
        <ErrorBox error={cache.error} what="runs" retry={() => fetchPage(0, true)} />
      )}
      {cache.error && cache.total !== null && <div class="banner error">Refresh failed: {cache.error.detail}</div>}
      <div
        class="runs-scroll"
        ref={scroller}
        onScroll={(e) => {
          scrolledTo.current = (e.target as HTMLElement).scrollTop;
          setScrollTop(scrolledTo.current);
        }}
        data-ready={ready ? "1" : "0"}
        data-order={order}
        data-total={total}
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
          <div class="empty">
            {search || state || group || tag ? "No run matches these filters." : "No runs in this project yet."}
          </div>
        )}
      </div>
    </div>
  );
}

/** The state filter's choices: the server's states (none until its first answer), and the
 * state in the URL even if the server does not know it, so the select shows what filters. */
function stateChoices(states: RunState[], current: string): string[] {
  const names = states.map((s) => s.name);
  return current && !names.includes(current) ? [...names, current] : names;
}
