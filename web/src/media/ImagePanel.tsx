// Images of one key: the chosen step's images in a grid, with captions and writers, and a slider
// over the key's steps. Only the shown step's items are fetched; the images load lazily.
import { useState } from "preact/hooks";
import type { WriterInfo } from "../api";
import { ErrorBox } from "../components";
import { useDebounced, useResource } from "../hooks";
import {
  MEDIA_POLL_MS,
  type PanelProps,
  type ImageMeta,
  type MediaItem,
  blobUrl,
  labelOrder,
  mediaPath,
  mediaStepsPath,
  writerLabeller,
} from "./api";
import { StepSlider, useKept, useStepIndex } from "./steps";

/** Images narrower than this are drawn larger, with square pixels (MNIST digits, masks). */
const SMALL_PX = 96;

export function ImageFigure({
  project,
  run,
  item,
  writer,
}: {
  project: string;
  run: string;
  item: MediaItem;
  writer: string | null;
}) {
  const meta = item.meta as unknown as ImageMeta;
  const url = blobUrl(project, run, item.sha256 ?? "");
  const small = meta.width > 0 && meta.width < SMALL_PX;
  // The record can reach the server before its bytes do (an upload still under way or failed).
  const [missing, setMissing] = useState(false);
  return (
    <figure class="media-image" data-step={item.step} data-writer={writer ?? item.writer} data-index={item.index}>
      {missing ? (
        <div
          class="image-missing"
          style={{ aspectRatio: meta.width && meta.height ? `${meta.width} / ${meta.height}` : undefined }}
        >
          not on the server
        </div>
      ) : (
        <a href={url} target="_blank" rel="noopener" title="open the full image">
          <img
            src={url}
            loading="lazy"
            decoding="async"
            width={meta.width || undefined}
            height={meta.height || undefined}
            alt={meta.caption ?? `${item.key} ${item.index}`}
            class={small ? "pixelated" : undefined}
            onError={() => setMissing(true)}
          />
        </a>
      )}
      <figcaption>
        {meta.caption && <span class="caption">{meta.caption}</span>}
        <span class="muted image-facts">
          {writer && <span class="writer">{writer}</span>}
          {item.index > 0 && <span>#{item.index}</span>}
          <span>
            {meta.width}×{meta.height}
          </span>
        </span>
      </figcaption>
    </figure>
  );
}

/** Items grouped by writer (the main writer first), each group in logged order. */
export function byWriter(items: MediaItem[], label: (w: string) => string): [string, MediaItem[]][] {
  const groups = new Map<string, MediaItem[]>();
  for (const item of items) {
    const name = label(item.writer);
    if (!groups.has(name)) groups.set(name, []);
    groups.get(name)!.push(item);
  }
  return [...groups.entries()].sort(([a], [b]) => labelOrder(a, b));
}

export function ImageGrid({
  project,
  run,
  items,
  writers,
}: {
  project: string;
  run: string;
  items: MediaItem[];
  writers: WriterInfo[];
}) {
  const label = writerLabeller(writers);
  const groups = byWriter(items, label);
  // Several writers: a title per writer's group. One writer of several: named under each image.
  const several = groups.length > 1;
  return (
    <>
      {groups.map(([name, list]) => (
        <div class="image-group" data-writer={name} key={name}>
          {several && <div class="image-group-title">{name}</div>}
          <div class="image-grid">
            {list.map((item) => (
              <ImageFigure
                key={`${item.writer}/${item.index}`}
                project={project}
                run={run}
                item={item}
                writer={!several && writers.length > 1 ? name : null}
              />
            ))}
          </div>
        </div>
      ))}
    </>
  );
}

export function ImagePanel({ project, run, mediaKey, writers, live = false, newest = null }: PanelProps) {
  const steps = useResource<number[]>(mediaStepsPath(project, run, mediaKey), {
    pollMs: MEDIA_POLL_MS,
    poll: () => live,
  });
  const list = steps.data ?? [];
  const [index, setIndex] = useStepIndex(list);
  // Dragging the slider asks for the step it rests on, not every step it passes.
  const current = list.length ? list[index] : newest;
  const settled = useDebounced(current, 80);
  const step = settled ?? current; // the first step shown is asked for at once
  const items = useResource<MediaItem[]>(step === null ? null : mediaPath(project, run, mediaKey, step));
  const shown = useKept(items.data);
  const loading = items.data === null && step !== null;
  return (
    <section class="media-panel image-panel" data-key={mediaKey} data-kind="image">
      <div class="panel-head">
        <span class="panel-title" title={mediaKey}>
          {mediaKey}
        </span>
        <StepSlider steps={list} index={index} onChange={setIndex} />
      </div>
      {steps.error && <ErrorBox error={steps.error} what={`the steps of ${mediaKey}`} retry={steps.reload} />}
      {items.error && <ErrorBox error={items.error} what={`the images of ${mediaKey}`} retry={items.reload} />}
      <div class={loading ? "media-body stale" : "media-body"} data-shown-step={loading ? "" : (step ?? "")}>
        {shown ? (
          shown.length === 0 ? (
            <div class="panel-note">No images at this step.</div>
          ) : (
            <ImageGrid project={project} run={run} items={shown} writers={writers} />
          )
        ) : (
          !steps.error && <div class="panel-note">Loading images…</div>
        )}
      </div>
    </section>
  );
}
