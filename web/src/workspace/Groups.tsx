// Grouping: the group-by control (config keys, group, job_type, tags), and the table folded
// into groups with their counts and aggregated summaries (GET P/runs/groups).
import { useLayoutEffect, useState } from "preact/hooks";
import { ApiError, isAbort, runPath } from "../api";
import { colour, formatNumber, formatValue } from "../format";
import { type Aggregate, type ProjectKeys, type RunGroup, fetchGroups } from "./api";
import type { Highlight } from "./highlight";
import { GROUP_FIELDS } from "./state";

export function GroupBy({
  keys,
  value,
  onChange,
}: {
  keys: ProjectKeys | null;
  value: string[];
  onChange: (by: string[]) => void;
}) {
  const choices = [...GROUP_FIELDS, ...(keys?.config ?? []).map((k) => `config.${k}`)].filter(
    (c) => !value.includes(c),
  );
  return (
    <span class="group-by">
      <span class="muted">group by</span>
      {value.map((by) => (
        <button
          class="filter-chip"
          title="stop grouping by this key"
          onClick={() => onChange(value.filter((v) => v !== by))}
        >
          {by} ×
        </button>
      ))}
      <select
        aria-label="group by"
        value=""
        onChange={(e) => {
          const chosen = (e.target as HTMLSelectElement).value;
          if (chosen) onChange([...value, chosen]);
        }}
      >
        <option value="">{value.length ? "+ key" : "none"}</option>
        {choices.map((c) => (
          <option value={c}>{c}</option>
        ))}
      </select>
    </span>
  );
}

function aggregate(a: Aggregate | undefined): string {
  if (!a || a.mean === null) return "";
  const range =
    a.min !== null && a.max !== null && a.min !== a.max ? ` (${formatNumber(a.min)}–${formatNumber(a.max)})` : "";
  return `${formatNumber(a.mean)}${range}`;
}

/** The groups of the runs passing `filter` (null while loading). */
export function useGroups(
  project: string,
  by: string[],
  filter: string,
): { groups: RunGroup[] | null; error: ApiError | null } {
  const [state, setState] = useState<{ groups: RunGroup[] | null; error: ApiError | null }>({
    groups: null,
    error: null,
  });
  // A layout effect: the request leaves right after the render, not after the next paint.
  useLayoutEffect(() => {
    if (by.length === 0) return;
    const controller = new AbortController();
    setState((old) => ({ groups: old.groups, error: null }));
    fetchGroups(project, by, filter, controller.signal)
      .then((groups) => setState({ groups, error: null }))
      .catch((caught: unknown) => {
        if (!isAbort(caught))
          setState({ groups: null, error: caught instanceof ApiError ? caught : new ApiError(0, String(caught)) });
      });
    return () => controller.abort();
  }, [project, by.join(","), filter]);
  return by.length ? state : { groups: null, error: null };
}

export function GroupTable({
  project,
  by,
  groups,
  summaryKeys,
  highlight,
}: {
  project: string;
  by: string[];
  groups: RunGroup[] | null;
  summaryKeys: string[];
  highlight: Highlight;
}) {
  const [open, setOpen] = useState<Set<string>>(new Set());
  if (!groups) return <div class="panel-note">grouping…</div>;
  const keys = summaryKeys.length
    ? summaryKeys
    : [...new Set(groups.flatMap((g) => Object.keys(g.summary)))].sort().slice(0, 8);
  const toggle = (label: string) =>
    setOpen((old) => {
      const next = new Set(old);
      if (next.has(label)) next.delete(label);
      else next.add(label);
      return next;
    });
  return (
    <div class="group-table-wrap" data-groups={groups.length}>
      <table class="simple group-table">
        <thead>
          <tr>
            <th />
            {by.map((b) => (
              <th>{b}</th>
            ))}
            <th class="num">runs</th>
            {keys.map((k) => (
              <th class="num" title={`mean (min–max) of summary.${k}`}>
                Σ {k}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {groups.map((group, index) => {
            const label = group.label;
            return [
              <tr
                class="group-row"
                data-group={label}
                data-count={group.count}
                onClick={() => toggle(label)}
                onMouseEnter={() => highlight.set(label)}
                onMouseLeave={() => highlight.set(null)}
              >
                <td>
                  <span class="swatch" style={{ background: colour(index) }} />
                  {open.has(label) ? "▾" : "▸"}
                </td>
                {by.map((b) => (
                  <td>{formatValue(group.key[b])}</td>
                ))}
                <td class="num">{group.count}</td>
                {keys.map((k) => (
                  <td class="num" data-key={k}>
                    {aggregate(group.summary[k])}
                  </td>
                ))}
              </tr>,
              open.has(label) && (
                <tr class="group-runs">
                  <td colSpan={by.length + 2 + keys.length}>
                    {group.runs.map((id) => (
                      <a href={runPath(project, id)} class="group-run">
                        {id}
                      </a>
                    ))}
                  </td>
                </tr>
              ),
            ];
          })}
        </tbody>
      </table>
    </div>
  );
}
