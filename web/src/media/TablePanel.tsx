// A logged table: sortable (click a header), filterable (any cell contains the text), image
// cells as thumbnails, and virtualised: rows have one fixed height and only those in view (and
// a few either side) are in the DOM, so 100,000 rows scroll like 100.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { Json } from "../api";
import { ErrorBox } from "../components";
import { formatValue } from "../format";
import { useDebounced } from "../hooks";
import { type PanelProps, type TableBlob, blobText, blobUrl, isImageCell, writerLabeller } from "./api";
import { useAllItems } from "./items";
import { ItemPicker } from "./steps";
import { type Sort, imageColumns, loweredRows, numericColumns, rowWindow, visibleRows } from "./table";

const ROW_PX = 28;
const IMAGE_ROW_PX = 56;
const VIEW_PX = 480;

function useTableBlob(project: string, run: string, sha256: string | null) {
  const [state, setState] = useState<{ sha256: string | null; table: TableBlob | null; error: string | null }>({
    sha256: null,
    table: null,
    error: null,
  });
  useEffect(() => {
    if (!sha256) return;
    const controller = new AbortController();
    blobText(project, run, sha256, controller.signal)
      .then((text) => {
        const parsed = JSON.parse(text) as TableBlob;
        if (!Array.isArray(parsed.columns) || !Array.isArray(parsed.data)) throw new Error("not a table");
        setState({ sha256, table: parsed, error: null });
      })
      .catch((error: unknown) => {
        if (!controller.signal.aborted) setState({ sha256, table: null, error: String(error) });
      });
    return () => controller.abort();
  }, [project, run, sha256]);
  return state.sha256 === sha256 ? state : { sha256, table: null, error: null };
}

function Cell({ value, project, run, rowPx }: { value: Json; project: string; run: string; rowPx: number }) {
  if (isImageCell(value)) {
    const url = blobUrl(project, run, value.sha256);
    return (
      <a href={url} target="_blank" rel="noopener" title={value.caption ?? "open the full image"}>
        <img class="thumb" src={url} loading="lazy" decoding="async" alt={value.caption ?? ""} height={rowPx - 8} />
      </a>
    );
  }
  if (value === null) return null;
  const text = typeof value === "string" ? value : formatValue(value);
  return <span title={text}>{text}</span>;
}

/** The filter and the order outlive the step shown: stepping through a key's tables keeps
 * showing the same rows of each. */
interface ViewState {
  filter: string;
  setFilter: (filter: string) => void;
  sort: Sort | null;
  setSort: (update: (old: Sort | null) => Sort | null) => void;
}

function TableView({
  project,
  run,
  table,
  view: { filter, setFilter, sort: wanted, setSort },
}: {
  project: string;
  run: string;
  table: TableBlob;
  view: ViewState;
}) {
  const sort = wanted && wanted.column < table.columns.length ? wanted : null;
  const [scrollTop, setScrollTop] = useState(0);
  const scroller = useRef<HTMLDivElement>(null);
  const applied = useDebounced(filter, 120);
  const numeric = useMemo(() => numericColumns(table), [table]);
  const images = useMemo(() => imageColumns(table), [table]);
  const lowered = useMemo(() => {
    let cache: string[] | null = null;
    return () => (cache ??= loweredRows(table));
  }, [table]);
  const rows = useMemo(() => visibleRows(table, applied, sort, lowered), [table, applied, sort, lowered]);
  const rowPx = images.some(Boolean) ? IMAGE_ROW_PX : ROW_PX;
  const [first, last] = rowWindow(scrollTop, VIEW_PX, rowPx, rows.length);
  // Every row is its own grid, so the columns' widths are fixed, never "as wide as the content".
  const numberPx = 24 + 8 * String(table.data.length).length;
  const columns = `${numberPx}px ${table.columns
    // Numbers need less room than text.
    .map((_, c) => (images[c] ? `${rowPx + 24}px` : numeric[c] ? "minmax(80px, 1fr)" : "minmax(110px, 3fr)"))
    .join(" ")}`;
  const minWidth =
    numberPx + table.columns.reduce((sum, _, c) => sum + (images[c] ? rowPx + 24 : numeric[c] ? 80 : 110), 0);

  // A new filter or order starts at the top.
  useEffect(() => {
    if (scroller.current) scroller.current.scrollTop = 0;
    setScrollTop(0);
  }, [applied, sort]);

  const clickHeader = (column: number) =>
    setSort((old) =>
      old?.column !== column ? { column, descending: false } : old.descending ? null : { column, descending: true },
    );

  return (
    <>
      <div class="toolbar table-toolbar">
        <input
          type="search"
          placeholder="filter rows"
          aria-label="filter rows"
          value={filter}
          onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
        />
        <span class="muted row-count" data-rows={rows.length}>
          {rows.length === table.data.length
            ? `${rows.length.toLocaleString()} rows`
            : `${rows.length.toLocaleString()} of ${table.data.length.toLocaleString()} rows`}
        </span>
      </div>
      <div
        class="table-scroll"
        ref={scroller}
        style={{ maxHeight: `${VIEW_PX + 34}px` }}
        onScroll={(e) => setScrollTop((e.currentTarget as HTMLDivElement).scrollTop)}
      >
        <div class="table-head" style={{ gridTemplateColumns: columns, minWidth: `${minWidth}px` }}>
          <span class="num muted">#</span>
          {table.columns.map((name, c) => (
            <button
              class={`sortable${numeric[c] ? " num" : ""}${sort?.column === c ? " sorted" : ""}`}
              data-column={name}
              aria-sort={sort?.column === c ? (sort.descending ? "descending" : "ascending") : "none"}
              onClick={() => clickHeader(c)}
              title={`sort by ${name}`}
            >
              {name}
              {sort?.column === c ? (sort.descending ? " ▼" : " ▲") : ""}
            </button>
          ))}
        </div>
        <div class="table-body" style={{ height: `${rows.length * rowPx}px`, minWidth: `${minWidth}px` }}>
          {rows.slice(first, last).map((row, i) => (
            <div
              class="table-row"
              key={row}
              data-row={row}
              style={{ top: `${(first + i) * rowPx}px`, height: `${rowPx}px`, gridTemplateColumns: columns }}
            >
              <span class="num muted">{row}</span>
              {table.columns.map((_, c) => (
                <span class={numeric[c] ? "num" : images[c] ? "image-cell" : undefined}>
                  <Cell value={table.data[row][c] ?? null} project={project} run={run} rowPx={rowPx} />
                </span>
              ))}
            </div>
          ))}
        </div>
        {rows.length === 0 && <div class="panel-note">No row matches.</div>}
      </div>
    </>
  );
}

export function TablePanel({ project, run, mediaKey, writers, live = false, count = 0 }: PanelProps) {
  const items = useAllItems(project, run, mediaKey, { live, count });
  const list = items.data ?? [];
  const [chosen, setChosen] = useState<number | null>(null);
  const index = chosen === null ? list.length - 1 : Math.min(chosen, list.length - 1);
  const item = index >= 0 ? list[index] : null;
  const blob = useTableBlob(project, run, item?.sha256 ?? null);
  const [filter, setFilter] = useState("");
  const [sort, setSort] = useState<Sort | null>(null);
  const view = { filter, setFilter, sort, setSort };
  return (
    <section class="media-panel table-panel" data-key={mediaKey} data-kind="table">
      <div class="panel-head">
        <span class="panel-title" title={mediaKey}>
          {mediaKey}
        </span>
        <ItemPicker items={list} index={index} onChange={setChosen} writerLabel={writerLabeller(writers)} />
      </div>
      {items.error && <ErrorBox error={items.error} what={`the table ${mediaKey}`} retry={items.reload} />}
      {blob.error && <div class="panel-note error">Could not read the table: {blob.error}</div>}
      {!blob.table && !blob.error && !items.error && <div class="panel-note">Loading the table…</div>}
      {blob.table && <TableView key={blob.sha256} project={project} run={run} table={blob.table} view={view} />}
    </section>
  );
}
