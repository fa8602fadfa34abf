// The runs table's columns (fixed ones, and config/summary/environment keys), which of them
// show by default (the keys whose values differ between the runs shown), the user's choice
// (added, hidden, reordered; kept per project in this browser and in the URL), the column
// picker, and one row.
import { Component } from "preact";
import { useState } from "preact/hooks";
import { type Json, type Run, runPath } from "../api";
import { StateBadge } from "../components";
import { formatDuration, formatTime, formatValue } from "../format";

export interface Column {
  id: string;
  label: string;
  width: number;
  /** The server's `order=` field; absent: not sortable. */
  order?: string;
  numeric?: boolean;
  cell: (run: Run) => preact.ComponentChildren;
}

/** Adds a clause to the workspace's filter (a click on a tag or a group). */
export type FilterBy = (clause: string) => void;

export function baseColumns(project: string, filterBy: FilterBy): Column[] {
  return [
    {
      id: "name",
      label: "name",
      width: 240,
      order: "name",
      cell: (run) => (
        <a href={runPath(project, run.id)} title={run.id}>
          {run.name || run.id}
        </a>
      ),
    },
    { id: "state", label: "state", width: 110, order: "state", cell: (run) => <StateBadge run={run} /> },
    { id: "user", label: "user", width: 100, cell: (run) => run.user },
    { id: "host", label: "host", width: 140, cell: (run) => run.host ?? "" },
    { id: "start", label: "start", width: 150, order: "start_time", cell: (run) => formatTime(run.start_time) },
    {
      id: "duration",
      label: "duration",
      width: 100,
      order: "duration",
      numeric: true,
      cell: (run) => formatDuration(run.duration),
    },
    { id: "step", label: "step", width: 80, order: "last_step", numeric: true, cell: (run) => run.last_step ?? "" },
    {
      id: "tags",
      label: "tags",
      width: 160,
      cell: (run) =>
        run.tags.map((tag) => (
          <button
            class="tag"
            title={`only runs tagged ${tag}`}
            onClick={() => filterBy(`tags has ${JSON.stringify(tag)}`)}
          >
            {tag}
          </button>
        )),
    },
    {
      id: "group",
      label: "group",
      width: 120,
      cell: (run) =>
        run.group && (
          <button
            class="link cell-link"
            title={`only runs of group ${run.group}`}
            onClick={() => filterBy(`group = ${JSON.stringify(run.group)}`)}
          >
            {run.group}
          </button>
        ),
    },
  ];
}

const SECTION_MARKS: Record<string, string> = { config: "⚙ ", summary: "Σ ", environment: "▣ " };

/** A column of a config, summary or environment field: `config.lr`, `environment.git.commit`. */
export function customColumn(id: string): Column {
  const [section, ...rest] = id.split(".");
  const key = rest.join(".");
  const values = (run: Run): Record<string, Json> =>
    section === "config" ? run.config : section === "environment" ? (run.environment ?? {}) : run.summary;
  const pick = (run: Run): Json | undefined => values(run)[key];
  return {
    id,
    label: `${SECTION_MARKS[section] ?? ""}${key}`,
    width: 130,
    order: id,
    numeric: section !== "environment",
    cell: (run) => {
      const value = pick(run);
      const shown = formatValue(value);
      return (
        <span class={typeof value === "number" ? "num" : ""} title={shown}>
          {shown}
        </span>
      );
    },
  };
}

/** The user's choice of columns. `cols` names the columns added to the defaults, which follow
 * them; or, once the user reordered, every column in its order (defaults it does not name
 * follow). `hidden` columns never show. */
export interface ColumnPrefs {
  cols: string[];
  hidden: string[];
}

const storageKey = (project: string) => `tether.columns.${project}`;

export function storedPrefs(project: string): ColumnPrefs {
  try {
    const stored: unknown = JSON.parse(localStorage.getItem(storageKey(project)) ?? "null");
    if (Array.isArray(stored)) return { cols: stored.map(String), hidden: [] }; // an older page's list of added keys
    const prefs = stored as Partial<ColumnPrefs> | null;
    return { cols: prefs?.cols ?? [], hidden: prefs?.hidden ?? [] };
  } catch {
    return { cols: [], hidden: [] };
  }
}

export function storePrefs(project: string, prefs: ColumnPrefs): void {
  try {
    localStorage.setItem(storageKey(project), JSON.stringify(prefs));
  } catch {
    // storage unavailable: the URL still holds the choice
  }
}

export function shownColumns(defaults: string[], prefs: ColumnPrefs): string[] {
  const hidden = new Set(prefs.hidden);
  const base = defaults.filter((c) => !hidden.has(c));
  const reordered = prefs.cols.some((c) => defaults.includes(c));
  const chosen = prefs.cols.filter((c) => !hidden.has(c));
  return [...new Set(reordered ? [...chosen, ...base] : [...base, ...chosen])];
}

/** The shortest `cols` that gives `shown`: the added columns alone while the defaults keep
 * their order, every column otherwise. */
export function minimalCols(defaults: string[], shown: string[]): string[] {
  const added = shown.filter((c) => !defaults.includes(c));
  const kept = shown.filter((c) => defaults.includes(c));
  const inOrder = kept.every((c, i) => i === 0 || defaults.indexOf(kept[i - 1]) < defaults.indexOf(c));
  const addedLast = shown.slice(kept.length).every((c) => added.includes(c));
  return inOrder && addedLast ? added : shown;
}

/** The base columns a fresh table shows (with the differing config and summary keys). */
export function defaultBaseColumns(runs: Run[]): string[] {
  const ids = ["name", "state"];
  if (runs.some((run) => run.group)) ids.push("group");
  if (runs.some((run) => run.tags.length)) ids.push("tags");
  return [...ids, "duration", "step"];
}

export function ColumnPicker({
  all,
  shown,
  onChange,
}: {
  /** Every column that can show: the fixed ones, then config/summary/environment keys. */
  all: string[];
  shown: string[];
  /** The new order of the shown columns, and the ones hidden. */
  onChange: (shown: string[], hidden: string[]) => void;
}) {
  const [filter, setFilter] = useState("");
  // The menu exists only while open: its labels would otherwise shadow the page's own.
  const [open, setOpen] = useState(false);
  const matches = (k: string) => k.toLowerCase().includes(filter.toLowerCase());
  const rest = all.filter((k) => !shown.includes(k) && matches(k));
  const hide = (key: string) =>
    onChange(
      shown.filter((c) => c !== key),
      [...all.filter((k) => !shown.includes(k)), key],
    );
  const add = (key: string) =>
    onChange(
      [...shown, key],
      all.filter((k) => !shown.includes(k) && k !== key),
    );
  const move = (key: string, by: number) => {
    const next = [...shown];
    const at = next.indexOf(key);
    const to = at + by;
    if (to < 0 || to >= next.length) return;
    [next[at], next[to]] = [next[to], next[at]];
    onChange(
      next,
      all.filter((k) => !shown.includes(k)),
    );
  };
  return (
    <details class="picker" onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
      <summary>Columns ({shown.length})</summary>
      {open && (
        <div class="picker-menu">
          <input
            type="search"
            placeholder="filter keys"
            value={filter}
            onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
          />
          <div class="picker-list">
            {shown.filter(matches).map((key) => (
              <div class="picker-row" key={key} data-column={key}>
                <label class="check">
                  <input type="checkbox" checked onChange={() => hide(key)} />
                  {key}
                </label>
                <button class="link small" title={`move ${key} left`} onClick={() => move(key, -1)}>
                  ↑
                </button>
                <button class="link small" title={`move ${key} right`} onClick={() => move(key, 1)}>
                  ↓
                </button>
              </div>
            ))}
            {rest.map((key) => (
              <label class="check" key={key}>
                <input type="checkbox" checked={false} onChange={() => add(key)} />
                {key}
              </label>
            ))}
          </div>
        </div>
      )}
    </details>
  );
}

interface RunRowProps {
  run: Run;
  top: number;
  columns: Column[];
  /** The columns' identity: rows re-render when it changes, not on every scroll. */
  template: string;
  selected: boolean;
  /** The colour of the run's line in the charts, if charted. */
  colour?: string;
  onToggle: (id: string) => void;
}

export class RunRow extends Component<RunRowProps> {
  shouldComponentUpdate(next: RunRowProps) {
    const p = this.props;
    return (
      next.run !== p.run ||
      next.top !== p.top ||
      next.selected !== p.selected ||
      next.colour !== p.colour ||
      next.template !== p.template ||
      next.columns.length !== p.columns.length ||
      next.columns.some((c, i) => c.id !== p.columns[i].id)
    );
  }

  render({ run, top, columns, template, selected, colour, onToggle }: RunRowProps) {
    return (
      <div
        class={selected ? "runs-row selected" : "runs-row"}
        style={{ top: `${top}px`, gridTemplateColumns: template }}
        data-run={run.id}
      >
        <span>
          {colour && <span class="swatch" style={{ background: colour }} />}
          <input
            type="checkbox"
            aria-label={`select ${run.name}`}
            checked={selected}
            onChange={() => onToggle(run.id)}
          />
        </span>
        {columns.map((column) => (
          <span class={column.numeric ? `cell num c-${column.id}` : `cell c-${column.id}`}>{column.cell(run)}</span>
        ))}
      </div>
    );
  }
}
