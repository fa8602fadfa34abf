// Which run (or group) the pointer is on, shared by the table and every chart of the
// workspace: hovering a line highlights its row, hovering a row brings its line forward.
export type HighlightListener = (id: string | null) => void;

export class Highlight {
  id: string | null = null;
  private listeners = new Set<HighlightListener>();

  set(id: string | null): void {
    if (id === this.id) return;
    this.id = id;
    this.listeners.forEach((listener) => listener(id));
  }

  subscribe(listener: HighlightListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** Marks the table row of the highlighted run (class `hovered`), without re-rendering rows. */
export function markRow(root: HTMLElement | null, id: string | null): void {
  if (!root) return;
  root.querySelectorAll(".runs-row.hovered, .group-row.hovered").forEach((row) => row.classList.remove("hovered"));
  if (id === null) return;
  root
    .querySelectorAll(`[data-run="${CSS.escape(id)}"], [data-group="${CSS.escape(id)}"]`)
    .forEach((row) => row.classList.add("hovered"));
}
