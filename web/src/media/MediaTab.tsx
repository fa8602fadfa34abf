// The run page's media tab: every key with media, grouped by kind (images, histograms, tables,
// text), each in its own panel that fetches only what it shows.
import { useState } from "preact/hooks";
import type { RunDetail } from "../api";
import { ErrorBox, Loading } from "../components";
import { useResource } from "../hooks";
import { MEDIA_POLL_MS, type MediaKey, type MediaKind, mediaKeysPath } from "./api";
import { HistogramPanel } from "./HistogramPanel";
import { ImagePanel } from "./ImagePanel";
import { TablePanel } from "./TablePanel";
import { TextPanel } from "./TextPanel";
import "./media.css";

const KINDS: { kind: MediaKind; title: string }[] = [
  { kind: "image", title: "images" },
  { kind: "histogram", title: "histograms" },
  { kind: "table", title: "tables" },
  { kind: "text", title: "text" },
];

const PANELS = { image: ImagePanel, histogram: HistogramPanel, table: TablePanel, text: TextPanel };

export function MediaTab({ project, run }: { project: string; run: RunDetail }) {
  // While the run is live new keys appear; the panels themselves stay as they are.
  const keys = useResource<MediaKey[]>(mediaKeysPath(project, run.id), { pollMs: MEDIA_POLL_MS, poll: () => run.live });
  const [filter, setFilter] = useState("");
  if (!keys.data) {
    return keys.error ? (
      <ErrorBox error={keys.error} what="the run's media" retry={keys.reload} />
    ) : (
      <Loading what="the media" />
    );
  }
  const shown = keys.data.filter((k) => k.key.toLowerCase().includes(filter.toLowerCase()));
  return (
    <div class="media-tab">
      <div class="toolbar">
        <input
          type="search"
          placeholder="filter media"
          value={filter}
          onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
        />
        <span class="muted">
          {keys.data.length} {keys.data.length === 1 ? "key" : "keys"}
        </span>
      </div>
      {keys.data.length === 0 && <div class="empty">This run logged no images, histograms, tables or text.</div>}
      {keys.data.length > 0 && shown.length === 0 && <div class="empty">No media key matches.</div>}
      {KINDS.map(({ kind, title }) => {
        const list = shown
          .filter((k) => k.kind === kind)
          .sort((a, b) => a.key.localeCompare(b.key, undefined, { numeric: true }));
        if (list.length === 0) return null;
        const Panel = PANELS[kind];
        return (
          <details open class="section" key={kind} data-section={kind}>
            <summary>
              {title} <span class="muted">{list.length}</span>
            </summary>
            <div class={`media-grid media-grid-${kind}`}>
              {list.map((k) => (
                <Panel
                  key={k.key}
                  project={project}
                  run={run.id}
                  mediaKey={k.key}
                  writers={run.writer_list}
                  newest={k.max_step}
                  count={k.count}
                  live={run.live}
                />
              ))}
            </div>
          </details>
        );
      })}
    </div>
  );
}
