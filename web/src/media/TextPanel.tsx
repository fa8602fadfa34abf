// Logged text: Markdown rendered through the safe renderer (markdown.ts), plain text as it is.
import { useEffect, useMemo, useState } from "preact/hooks";
import { ErrorBox } from "../components";
import { type PanelProps, type TextMeta, blobText, writerLabeller } from "./api";
import { markdown } from "./markdown";
import { useAllItems } from "./items";
import { ItemPicker } from "./steps";

function useBlobText(project: string, run: string, sha256: string | null) {
  const [state, setState] = useState<{ sha256: string | null; text: string | null; error: string | null }>({
    sha256: null,
    text: null,
    error: null,
  });
  useEffect(() => {
    if (!sha256) return;
    const controller = new AbortController();
    blobText(project, run, sha256, controller.signal)
      .then((text) => setState({ sha256, text, error: null }))
      .catch((error: unknown) => {
        if (!controller.signal.aborted) setState({ sha256, text: null, error: String(error) });
      });
    return () => controller.abort();
  }, [project, run, sha256]);
  return state.sha256 === sha256 ? state : { sha256, text: null, error: null };
}

export function TextPanel({ project, run, mediaKey, writers, live = false, count = 0 }: PanelProps) {
  const items = useAllItems(project, run, mediaKey, { live, count });
  const list = items.data ?? [];
  const [chosen, setChosen] = useState<number | null>(null);
  const index = chosen === null ? list.length - 1 : Math.min(chosen, list.length - 1);
  const item = index >= 0 ? list[index] : null;
  const blob = useBlobText(project, run, item?.sha256 ?? null);
  const format =
    (item?.meta as TextMeta | undefined)?.format ?? (item?.media_type === "text/markdown" ? "markdown" : "plain");
  // Parsed once per text, not on every render (a live run re-renders every few seconds).
  const rendered = useMemo(() => (blob.text === null ? null : markdown(blob.text)), [blob.text]);
  return (
    <section class="media-panel text-panel" data-key={mediaKey} data-kind="text">
      <div class="panel-head">
        <span class="panel-title" title={mediaKey}>
          {mediaKey}
        </span>
        <ItemPicker items={list} index={index} onChange={setChosen} writerLabel={writerLabeller(writers)} />
      </div>
      {items.error && <ErrorBox error={items.error} what={`the text ${mediaKey}`} retry={items.reload} />}
      {blob.error && <div class="panel-note error">Could not read the text: {blob.error}</div>}
      {item && blob.text === null && !blob.error && <div class="panel-note">Loading the text…</div>}
      {blob.text !== null &&
        (format === "markdown" ? (
          <div class="markdown" data-format="markdown">
            {rendered}
          </div>
        ) : (
          <pre class="plain-text" data-format="plain">
            {blob.text}
          </pre>
        ))}
    </section>
  );
}
