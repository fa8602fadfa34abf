// Choosing a step: a slider over the steps a key has (images), or a list of the logged objects
// (tables, text), each defaulting to the newest.
import { useRef, useState } from "preact/hooks";
import type { MediaItem } from "./api";

/** The last non-null value seen: a panel keeps showing the previous step while the next loads. */
export function useKept<T>(value: T | null): T | null {
  const kept = useRef<T | null>(null);
  if (value !== null) kept.current = value;
  return value ?? kept.current;
}

/** An index into `steps`, the newest until the user picks one; stays valid as steps grow. */
export function useStepIndex(steps: number[]): [number, (index: number) => void] {
  const [chosen, setChosen] = useState<number | null>(null);
  const index = chosen === null ? steps.length - 1 : Math.min(chosen, steps.length - 1);
  return [index, setChosen];
}

export function StepSlider({
  steps,
  index,
  onChange,
}: {
  steps: number[];
  index: number;
  onChange: (index: number) => void;
}) {
  if (steps.length === 0) return null;
  const step = steps[index];
  return (
    <div class="step-slider" data-steps={steps.length}>
      <button
        class="link"
        aria-label="previous step"
        disabled={index <= 0}
        onClick={() => onChange(Math.max(0, index - 1))}
      >
        ◀
      </button>
      <input
        type="range"
        min={0}
        max={Math.max(0, steps.length - 1)}
        value={index}
        disabled={steps.length < 2}
        aria-label="step"
        onInput={(e) => onChange(Number((e.target as HTMLInputElement).value))}
      />
      <button
        class="link"
        aria-label="next step"
        disabled={index >= steps.length - 1}
        onClick={() => onChange(Math.min(steps.length - 1, index + 1))}
      >
        ▶
      </button>
      <span class="step-label" data-step={step}>
        step {step.toLocaleString()}
        <span class="muted">
          {" "}
          ({index + 1} of {steps.length})
        </span>
      </span>
    </div>
  );
}

/** A logged object's name in a picker: its step, and its writer and index when they tell it apart. */
export function itemLabel(item: MediaItem, writerLabel: (w: string) => string, several: boolean): string {
  const who = several ? ` · ${writerLabel(item.writer)}${item.index ? ` #${item.index}` : ""}` : "";
  return `step ${item.step.toLocaleString()}${who}`;
}

/** Pick one of a key's logged objects (tables, text): the newest by default. */
export function ItemPicker({
  items,
  index,
  onChange,
  writerLabel,
}: {
  items: MediaItem[];
  index: number;
  onChange: (index: number) => void;
  writerLabel: (w: string) => string;
}) {
  if (items.length < 2) return null;
  const several = new Set(items.map((i) => `${i.writer}/${i.index}`)).size > 1;
  return (
    <select
      class="item-picker"
      aria-label="step"
      value={index}
      onChange={(e) => onChange(Number((e.target as HTMLSelectElement).value))}
    >
      {items.map((item, i) => (
        <option value={i}>{itemLabel(item, writerLabel, several)}</option>
      ))}
    </select>
  );
}
