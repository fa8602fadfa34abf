// The runs table's columns (fixed ones, and config/summary keys the user adds), the column
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

export type FilterBy = (field: "tag" | "group", value: string) => void;

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
          <button class="tag" title={`only runs tagged ${tag}`} onClick={() => filterBy("tag", tag)}>
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
            onClick={() => filterBy("group", run.group!)}
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

export function storedColumns(project: string): string[] {
  try {
    return JSON.parse(localStorage.getItem(`tether.columns.${project}`) ?? "[]");
  } catch {
    return [];
  }
}

export function ColumnPicker({
  keys,
  chosen,
  onChange,
}: {
  keys: string[];
  chosen: string[];
  onChange: (c: string[]) => void;
}) {
  const [filter, setFilter] = useState("");
  const shown = keys.filter((k) => k.toLowerCase().includes(filter.toLowerCase()));
  return (
    <details class="picker">
      <summary>Columns{chosen.length ? ` (+${chosen.length})` : ""}</summary>
      <div class="picker-menu">
        <input
          type="search"
          placeholder="filter keys"
          value={filter}
          onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
        />
        {shown.length === 0 && <div class="muted">No config, summary or environment keys in the loaded runs.</div>}
        <div class="picker-list">
          {shown.map((key) => (
            <label class="check" key={key}>
              <input
                type="checkbox"
                checked={chosen.includes(key)}
                onChange={() => onChange(chosen.includes(key) ? chosen.filter((c) => c !== key) : [...chosen, key])}
              />
              {key}
            </label>
          ))}
        </div>
      </div>
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
  onToggle: (id: string) => void;
}

export class RunRow extends Component<RunRowProps> {
  shouldComponentUpdate(next: RunRowProps) {
    const p = this.props;
    return (
      next.run !== p.run ||
      next.top !== p.top ||
      next.selected !== p.selected ||
      next.template !== p.template ||
      next.columns.length !== p.columns.length ||
      next.columns.some((c, i) => c.id !== p.columns[i].id)
    );
  }

  render({ run, top, columns, template, selected, onToggle }: RunRowProps) {
    return (
      <div
        class={selected ? "runs-row selected" : "runs-row"}
        style={{ top: `${top}px`, gridTemplateColumns: template }}
        data-run={run.id}
      >
        <span>
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
