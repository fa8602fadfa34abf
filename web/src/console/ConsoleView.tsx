// The console of a run: every line loaded in the background page by page, filtered on the
// client, and drawn virtually (only the rows in view exist in the DOM).
import { Component } from "preact";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, isAbort, runPath } from "../api";
import { useDebounced } from "../hooks";
import { colour, formatTime } from "../format";
import { type Span, parseAnsi } from "./ansi";
import { ConsoleBuffer, type ConsoleFilter, FilteredView } from "./buffer";
import "./console.css";
import { PageLoader } from "./loader";

const ROW = 18;
// Browsers cap an element's height (Firefox near 17.9M px): past this the scroll bar is scaled.
const MAX_SPACER = 8_000_000;
const FIRST_PAGE = 2_000;
const PAGE = 50_000;
const LIVE_MS = 3000;
const BLOCK = 1000;

interface Props {
  project: string;
  run: string;
  live: boolean;
  writerLabels: string[];
}

function useConsoleLines(project: string, run: string, live: boolean) {
  const buffer = useMemo(() => new ConsoleBuffer(), [project, run]);
  const [version, setVersion] = useState(0);
  // When every line so far had arrived (performance.now()), for tests and bench/ui_bench.py.
  const [done, setDone] = useState<number | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const liveRef = useRef(live);
  liveRef.current = live;

  useEffect(() => {
    const controller = new AbortController();
    const loader = new PageLoader();
    let timer = 0;
    let after = 0;
    let limit = FIRST_PAGE;
    const base = `${runPath(project, run)}/console`;
    const next = async () => {
      try {
        const path = `${base}?after=${after}&limit=${limit}`;
        const page = await loader.load(path, controller.signal, { background: limit === PAGE });
        setError(null);
        if (page.texts.length) {
          buffer.append(page);
          after = page.next;
          setVersion((v) => v + 1);
        }
        const more = page.texts.length === limit;
        limit = PAGE;
        if (more) {
          next();
          return;
        }
        setDone((at) => at ?? performance.now());
      } catch (caught) {
        if (isAbort(caught)) return;
        setError(caught instanceof ApiError ? caught : new ApiError(0, String(caught)));
      }
      if (liveRef.current) timer = window.setTimeout(next, LIVE_MS);
    };
    next();
    return () => {
      controller.abort();
      loader.close();
      clearTimeout(timer);
    };
  }, [buffer]);

  return { buffer, version, done, error };
}

interface RowProps {
  buffer: ConsoleBuffer;
  index: number;
  top: number;
  spans: Span[];
  /** The search, marked in the text (lower case: any case). */
  mark: string;
}

function marked(text: string, mark: string): preact.ComponentChildren {
  if (!mark) return text;
  const haystack = mark === mark.toLowerCase() ? text.toLowerCase() : text;
  const parts: preact.ComponentChildren[] = [];
  let from = 0;
  for (let at = haystack.indexOf(mark); at >= 0; at = haystack.indexOf(mark, at + mark.length)) {
    parts.push(text.slice(from, at), <mark>{text.slice(at, at + mark.length)}</mark>);
    from = at + mark.length;
  }
  parts.push(text.slice(from));
  return parts;
}

/** Rows keep their place while the view scrolls, so only the rows scrolled in are rendered. */
class Row extends Component<RowProps> {
  shouldComponentUpdate(next: RowProps) {
    const p = this.props;
    return next.index !== p.index || next.top !== p.top || next.spans !== p.spans || next.mark !== p.mark;
  }

  render({ buffer, index, top, spans, mark }: RowProps) {
    const writer = buffer.writerOf[index];
    const stderr = buffer.streamOf[index] === 2;
    return (
      <div class={stderr ? "cl err" : "cl"} style={{ top: `${top}px` }} title={formatTime(buffer.timeOf[index])}>
        <span class="ln">{index + 1}</span>
        <span class="cw" style={{ color: colour(writer) }}>
          {buffer.writers[writer]}
        </span>
        <span class="ct">
          {spans.map((s) =>
            s.cls || s.style ? (
              <span class={s.cls} style={s.style}>
                {marked(s.text, mark)}
              </span>
            ) : (
              marked(s.text, mark)
            ),
          )}
        </span>
      </div>
    );
  }
}

export function ConsoleView({ project, run, live, writerLabels }: Props) {
  const { buffer, version, done, error } = useConsoleLines(project, run, live);
  const [writer, setWriter] = useState<string | null>(null);
  const [stream, setStream] = useState<ConsoleFilter["stream"]>(null);
  const [searchInput, setSearchInput] = useState("");
  const search = useDebounced(searchInput, 200);
  const [follow, setFollow] = useState(live);
  const scroller = useRef<HTMLDivElement>(null);
  const [offset, setOffset] = useState(0); // px from the first line to the top of the view
  const [viewHeight, setViewHeight] = useState(600);
  const spanCache = useRef(new Map<number, Span[]>());

  const view = useMemo(
    () => new FilteredView(buffer, buffer.matcher({ writer, stream, search })),
    [buffer, writer, stream, search],
  );
  view.update(); // cheap: only lines that arrived since the last render are scanned
  void version;

  const count = view.length;
  const realHeight = count * ROW;
  const spacer = Math.min(realHeight, MAX_SPACER);
  // Past MAX_SPACER the scroll bar is scaled: scroll position = line offset / ratio.
  const scrollable = Math.max(0, spacer - viewHeight);
  const realScrollable = Math.max(0, realHeight - viewHeight);
  const ratio = scrollable > 0 ? realScrollable / scrollable : 1;

  useLayoutEffect(() => {
    const element = scroller.current;
    if (!element) return;
    const observer = new ResizeObserver(() => setViewHeight(element.clientHeight));
    observer.observe(element);
    setViewHeight(element.clientHeight);
    return () => observer.disconnect();
  }, []);

  // A new filter starts at the top (or the end, when following).
  useEffect(() => setOffset(0), [view]);

  // The position is kept as a line offset, so lines arriving in the background (which change
  // the scale) do not move what is on screen.
  const realTop = follow ? realScrollable : Math.min(offset, realScrollable);
  const expectedScrollTop = realTop / ratio;
  useLayoutEffect(() => {
    const element = scroller.current;
    if (element && Math.abs(element.scrollTop - expectedScrollTop) > 1) element.scrollTop = expectedScrollTop;
  });

  const onScroll = () => {
    const element = scroller.current;
    if (!element || Math.abs(element.scrollTop - expectedScrollTop) <= 1) return; // our own move
    setOffset(element.scrollTop * ratio);
    const atEnd = element.scrollTop + element.clientHeight >= element.scrollHeight - ROW;
    if (follow !== atEnd) setFollow(atEnd);
  };

  const first = Math.floor(realTop / ROW);
  const shift = realTop - first * ROW;
  const visible = Math.max(0, Math.min(count - first, Math.ceil(viewHeight / ROW) + 2));

  const cache = spanCache.current;
  if (cache.size > 20_000) cache.clear();
  // Rows sit at (position - base) * ROW inside a block that moves with the scroll; the base
  // changes once every BLOCK lines, so a row's own offset stays put while it is in view.
  const base = Math.floor(first / BLOCK) * BLOCK;
  const rows = [];
  for (let k = 0; k < visible; k++) {
    const position = first + k;
    const index = view.lineAt(position);
    let spans = cache.get(index);
    if (!spans) {
      spans = parseAnsi(buffer.texts[index]);
      cache.set(index, spans);
    }
    rows.push(
      <Row key={position} buffer={buffer} index={index} top={(position - base) * ROW} spans={spans} mark={search} />,
    );
  }

  const labels = [...new Set([...writerLabels, ...buffer.writers])].sort((a, b) =>
    a.localeCompare(b, undefined, { numeric: true }),
  );

  return (
    <div
      class="console"
      data-lines={buffer.length}
      data-shown={count}
      data-done={done !== null ? "1" : "0"}
      data-done-at={done ?? undefined}
    >
      <div class="toolbar">
        <select
          aria-label="writer"
          value={writer ?? ""}
          onChange={(e) => setWriter((e.target as HTMLSelectElement).value || null)}
        >
          <option value="">all writers</option>
          {labels.map((label) => (
            <option value={label}>{label}</option>
          ))}
        </select>
        <select
          aria-label="stream"
          value={stream ?? ""}
          onChange={(e) => setStream(((e.target as HTMLSelectElement).value || null) as ConsoleFilter["stream"])}
        >
          <option value="">stdout + stderr</option>
          <option value="stdout">stdout</option>
          <option value="stderr">stderr</option>
        </select>
        <input
          type="search"
          placeholder="search lines"
          value={searchInput}
          onInput={(e) => setSearchInput((e.target as HTMLInputElement).value)}
        />
        <label class="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow((e.target as HTMLInputElement).checked)} />
          follow
        </label>
        <span class="muted">
          {count === buffer.length
            ? `${buffer.length.toLocaleString()} lines`
            : `${count.toLocaleString()} of ${buffer.length.toLocaleString()} lines`}
          {done === null && " (loading…)"}
        </span>
      </div>
      {error && <div class="banner error">Console: {error.detail}</div>}
      <div class="console-scroll" ref={scroller} onScroll={onScroll}>
        <div style={{ height: `${spacer}px` }} />
        <div class="console-rows" style={{ top: `${expectedScrollTop - shift - (first - base) * ROW}px` }}>
          {rows}
        </div>
        {done !== null && buffer.length === 0 && <div class="empty">This run printed nothing.</div>}
        {done !== null && buffer.length > 0 && count === 0 && <div class="empty">No line matches.</div>}
      </div>
    </div>
  );
}
