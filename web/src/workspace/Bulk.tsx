// Bulk actions on the selected runs (POST P/runs/bulk): tag, untag, move to another project of
// the same owner, delete. Each asks for its argument in a small form; delete asks to confirm,
// naming how many runs. The server checks the role (member; admin to delete others' runs) and
// its refusal is shown as it words it.
import { useState } from "preact/hooks";
import { ApiError } from "../api";
import { type BulkAction, bulk } from "./api";

interface Props {
  project: string;
  selected: string[];
  onDone: (message: string, action: BulkAction) => void;
}

const NEEDS: Record<BulkAction, string | null> = { tag: "tag", untag: "tag", move: "project", delete: null };

export function BulkActions({ project, selected, onDone }: Props) {
  const [action, setAction] = useState<BulkAction | null>(null);
  const [argument, setArgument] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (selected.length === 0) return null;

  const run = async () => {
    if (!action) return;
    const need = NEEDS[action];
    if (need && !argument.trim()) {
      setError(`Give a ${need}.`);
      return;
    }
    setBusy(true);
    try {
      const extra = need === "tag" ? { tag: argument.trim() } : need === "project" ? { project: argument.trim() } : {};
      const { changed } = await bulk(project, action, selected, extra);
      setAction(null);
      setArgument("");
      setError(null);
      onDone(`${action}: ${changed} run${changed === 1 ? "" : "s"} changed`, action);
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.detail : String(caught));
    } finally {
      setBusy(false);
    }
  };

  const choose = (next: BulkAction) => {
    setAction(action === next ? null : next);
    setArgument("");
    setError(null);
  };
  const count = `${selected.length} run${selected.length === 1 ? "" : "s"}`;
  return (
    <span class="bulk-actions" data-selected={selected.length}>
      <button onClick={() => choose("tag")}>Tag…</button>
      <button onClick={() => choose("untag")}>Untag…</button>
      <button onClick={() => choose("move")}>Move…</button>
      <button class="danger" onClick={() => choose("delete")}>
        Delete…
      </button>
      {action && (
        <form
          class="bulk-form"
          data-action={action}
          onSubmit={(event) => {
            event.preventDefault();
            run();
          }}
        >
          {action === "delete" ? (
            <span>
              Delete {count} and all {selected.length === 1 ? "its" : "their"} data? This cannot be undone.
            </span>
          ) : (
            <input
              aria-label={NEEDS[action]!}
              placeholder={action === "move" ? "to project" : "tag"}
              value={argument}
              onInput={(e) => setArgument((e.target as HTMLInputElement).value)}
              autoFocus
            />
          )}
          <button type="submit" class={action === "delete" ? "danger primary" : "primary"} disabled={busy}>
            {action === "delete" ? `Delete ${count}` : `${action[0].toUpperCase()}${action.slice(1)} ${count}`}
          </button>
          <button type="button" class="link" onClick={() => setAction(null)}>
            cancel
          </button>
          {error && (
            <span class="bulk-error" role="alert">
              {error}
            </span>
          )}
        </form>
      )}
    </span>
  );
}
