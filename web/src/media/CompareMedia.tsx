// Images side by side across compared runs: per image key, one column per run and one slider
// over the steps any of them has; each run shows its own newest step at or before the chosen one.
import { useEffect, useMemo, useState } from "preact/hooks";
import { type RunDetail, isAbort } from "../api";
import { colour } from "../format";
import { useDebounced, useResource } from "../hooks";
import { type MediaItem, type MediaKey, mediaKeys, mediaPath, mediaSteps } from "./api";
import { ImageGrid } from "./ImagePanel";
import { StepSlider, useKept, useStepIndex } from "./steps";
import "./media.css";

/** The run's newest step at or before `step` (its first step when it has none before). */
export function stepAtOrBefore(steps: number[], step: number): number | null {
  if (steps.length === 0) return null;
  let found: number | null = null;
  for (const s of steps) if (s <= step) found = s;
  return found ?? steps[0];
}

function RunImages({
  project,
  run,
  mediaKey,
  step,
  label,
  index,
}: {
  project: string;
  run: RunDetail;
  mediaKey: string;
  step: number | null;
  label: string;
  index: number;
}) {
  const items = useResource<MediaItem[]>(step === null ? null : mediaPath(project, run.id, mediaKey, step));
  const shown = useKept(items.data);
  return (
    <div class="compare-run" data-run={run.id} data-shown-step={items.data ? (step ?? "") : ""}>
      <div class="compare-run-title">
        <span class="swatch" style={{ background: colour(index) }} />
        <span>{label}</span>
        <span class="muted">{step === null ? "no images" : `step ${step.toLocaleString()}`}</span>
      </div>
      {items.error && <div class="panel-note error">{items.error.detail}</div>}
      {shown && <ImageGrid project={project} run={run.id} items={shown} writers={run.writer_list} />}
    </div>
  );
}

function CompareImagePanel({
  project,
  runs,
  labels,
  mediaKey,
}: {
  project: string;
  runs: RunDetail[];
  labels: string[];
  mediaKey: string;
}) {
  const [steps, setSteps] = useState<number[][] | null>(null);
  useEffect(() => {
    const controller = new AbortController();
    Promise.all(runs.map((run) => mediaSteps(project, run.id, mediaKey, controller.signal).catch(() => [])))
      .then(setSteps)
      .catch((error: unknown) => {
        if (!isAbort(error)) setSteps(runs.map(() => []));
      });
    return () => controller.abort();
    // The run list is rebuilt on every refresh of a live run; its ids are what matter.
  }, [project, runs.map((r) => r.id).join(","), mediaKey]);
  const union = useMemo(() => [...new Set((steps ?? []).flat())].sort((a, b) => a - b), [steps]);
  const [index, setIndex] = useStepIndex(union);
  const current = union.length ? union[index] : null;
  const chosen = useDebounced(current, 80) ?? current;
  return (
    <section class="media-panel image-panel" data-key={mediaKey} data-kind="image">
      <div class="panel-head">
        <span class="panel-title" title={mediaKey}>
          {mediaKey}
        </span>
        <StepSlider steps={union} index={index} onChange={setIndex} />
      </div>
      {!steps && <div class="panel-note">Loading images…</div>}
      {steps && chosen !== null && (
        <div class="compare-row" style={{ gridTemplateColumns: `repeat(${runs.length}, minmax(220px, 1fr))` }}>
          {runs.map((run, i) => (
            <RunImages
              key={run.id}
              project={project}
              run={run}
              mediaKey={mediaKey}
              step={stepAtOrBefore(steps[i], chosen)}
              label={labels[i]}
              index={i}
            />
          ))}
        </div>
      )}
    </section>
  );
}

export function CompareMedia({ project, runs, labels }: { project: string; runs: RunDetail[]; labels: string[] }) {
  const [keys, setKeys] = useState<MediaKey[][] | null>(null);
  useEffect(() => {
    const controller = new AbortController();
    Promise.all(runs.map((run) => mediaKeys(project, run.id, controller.signal).catch(() => [])))
      .then(setKeys)
      .catch(() => undefined);
    return () => controller.abort();
  }, [project, runs.map((r) => r.id).join(",")]);
  const imageKeys = useMemo(
    () =>
      [
        ...new Set(
          (keys ?? [])
            .flat()
            .filter((k) => k.kind === "image")
            .map((k) => k.key),
        ),
      ].sort((a, b) => a.localeCompare(b, undefined, { numeric: true })),
    [keys],
  );
  if (imageKeys.length === 0) return null;
  return (
    <details open class="section compare-media" data-section="images">
      <summary>
        images <span class="muted">{imageKeys.length}</span>
      </summary>
      <div class="media-grid">
        {imageKeys.map((key) => (
          <CompareImagePanel key={key} project={project} runs={runs} labels={labels} mediaKey={key} />
        ))}
      </div>
    </details>
  );
}
