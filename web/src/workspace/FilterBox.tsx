// The workspace's filter: one expression over config, summary, environment, state, tags...
// (the server parses it: src/tether/server/run_filter/). Completion offers the project's keys
// and values for the word at the cursor; a malformed filter shows the server's message with a
// caret under the position it names. Applied on Enter (or a pick from the completion).
import { useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import type { FilterProblem, ProjectKeys } from "./api";

const FIELDS = [
  "state",
  "name",
  "group",
  "job_type",
  "tags",
  "user",
  "host",
  "id",
  "start_time",
  "duration",
  "last_step",
];
const WORDS = ["and", "or", "not", "has", "in", "exists", "true", "false", "null"];
const STATES = ["running", "finished", "failed", "crashed", "killed"];
const MAX_SHOWN = 12;

interface Props {
  value: string;
  keys: ProjectKeys | null;
  problem: FilterProblem | null;
  onApply: (filter: string) => void;
}

/** The word being typed at `cursor` and where it starts. */
function wordAt(text: string, cursor: number): { word: string; start: number } {
  let start = cursor;
  while (start > 0 && /[\w./\-"']/.test(text[start - 1])) start--;
  return { word: text.slice(start, cursor), start };
}

function quoted(value: string): string {
  return JSON.stringify(value);
}

/** What may come at the cursor, given the two words before it. */
function candidates(text: string, start: number, keys: ProjectKeys | null): string[] {
  const before = text.slice(0, start).trim().split(/\s+/);
  const [field, op] = [before[before.length - 2] ?? "", before[before.length - 1] ?? ""];
  if (op === "has" && field === "tags") return (keys?.tags ?? []).map(quoted);
  if (["=", "!=", "in", "("].includes(op) || op.endsWith("(")) {
    if (field === "state") return STATES;
    if (field === "group") return (keys?.groups ?? []).map(quoted);
    if (field === "job_type") return (keys?.job_types ?? []).map(quoted);
    if (field === "user") return (keys?.users ?? []).map(quoted);
    if (field === "host") return (keys?.hosts ?? []).map(quoted);
  }
  const all = [
    ...FIELDS,
    ...(keys?.config ?? []).map((k) => `config.${k}`),
    ...(keys?.summary ?? []).map((k) => `summary.${k}`),
    ...(keys?.environment ?? []).map((k) => `environment.${k}`),
  ];
  return before.length && /^[\w.]+$/.test(op) && !WORDS.includes(op) && op !== ""
    ? [...WORDS, ...all]
    : [...all, ...WORDS];
}

export function FilterBox({ value, keys, problem, onApply }: Props) {
  const [text, setText] = useState(value);
  const [cursor, setCursor] = useState(0);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const input = useRef<HTMLInputElement>(null);
  // A layout effect: the applied filter shows in the box in the same render, before a key comes.
  useLayoutEffect(() => setText(value), [value]);

  const { word, start } = wordAt(text, cursor);
  const suggestions = useMemo(() => {
    if (!open) return [];
    const lower = word.toLowerCase();
    return candidates(text, start, keys)
      .filter((c) => c.toLowerCase().startsWith(lower) && c !== word)
      .slice(0, MAX_SHOWN);
  }, [open, text, start, word, keys]);

  const accept = (choice: string) => {
    const next = `${text.slice(0, start)}${choice} ${text.slice(cursor).trimStart()}`;
    const at = start + choice.length + 1;
    // The input's text and caret change now, not in a later frame: a key typed before that
    // frame would otherwise land at the end and then the caret jump back behind it (under load
    // the next keys come first). The render that follows finds the same value and keeps the caret.
    const element = input.current;
    if (element) {
      element.value = next;
      element.setSelectionRange(at, at);
    }
    setText(next);
    setCursor(at);
    setActive(0);
  };

  const onKeyDown = (event: KeyboardEvent) => {
    if (suggestions.length && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      setActive((a) => (a + step + suggestions.length) % suggestions.length);
    } else if (suggestions.length && event.key === "Tab") {
      event.preventDefault();
      accept(suggestions[active]);
    } else if (event.key === "Enter") {
      event.preventDefault();
      setOpen(false);
      onApply(text.trim());
    } else if (event.key === "Escape") {
      setOpen(false);
    }
  };

  const track = (event: Event) => {
    const element = event.target as HTMLInputElement;
    setCursor(element.selectionStart ?? element.value.length);
  };

  const position = problem ? Math.max(0, Math.min(problem.position, value.length)) : 0;
  return (
    <div class="filter-box" data-problem={problem ? String(problem.position) : undefined}>
      <input
        ref={input}
        type="text"
        class={problem ? "filter-input invalid" : "filter-input"}
        aria-label="filter"
        spellcheck={false}
        autoComplete="off"
        placeholder="filter: config.lr < 0.05 and summary.acc > 0.9 and state = finished"
        value={text}
        onInput={(e) => {
          setText((e.target as HTMLInputElement).value);
          setOpen(true);
          setActive(0);
          track(e);
        }}
        onKeyDown={onKeyDown}
        onKeyUp={track}
        onClick={track}
        onFocus={() => setOpen(true)}
        onBlur={() => setTimeout(() => setOpen(false), 150)}
      />
      {suggestions.length > 0 && (
        <ul class="filter-completion" role="listbox">
          {suggestions.map((s, i) => (
            <li
              role="option"
              aria-selected={i === active}
              class={i === active ? "active" : ""}
              onMouseDown={(e) => {
                e.preventDefault();
                accept(s);
              }}
            >
              {s}
            </li>
          ))}
        </ul>
      )}
      {problem && (
        <div class="filter-problem" role="alert">
          <pre class="filter-caret">
            {value}
            {"\n"}
            {" ".repeat(position)}^
          </pre>
          <span>
            {problem.message}
            {problem.expected.length > 0 && ` (expected ${problem.expected.join(", ")})`}
          </span>
        </div>
      )}
    </div>
  );
}
