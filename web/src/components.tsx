// Small pieces shared by the pages.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { ApiError, signIn } from "./api";

export function StateBadge({ run }: { run: { state: string; live: boolean } }) {
  return (
    <span class={`state state-${run.state}`} data-state={run.state}>
      {run.live && <span class="pulse" aria-hidden="true" />}
      {run.state}
    </span>
  );
}

export function ErrorBox({ error, what, retry }: { error: ApiError; what: string; retry?: () => void }) {
  let message: ComponentChildren = error.detail;
  if (error.status === 404) message = <>Not found: {error.detail}. It may have been deleted, or the link is wrong.</>;
  else if (error.status === 0) message = "Cannot reach the tether server. Is it still running?";
  else if (error.status === 401) message = "This server needs an API key.";
  return (
    <div class="error-box" role="alert" data-status={error.status}>
      <strong>Could not load {what}.</strong> {message}
      {retry && (
        <button class="link" onClick={retry}>
          retry
        </button>
      )}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return <div class="loading">Loading {what}…</div>;
}

/** Asked for when the server answers 401: the key is traded once for a session cookie
 * (HttpOnly, so no script of the page can read it) and is kept nowhere in the browser. */
export function KeyForm({ onSaved }: { onSaved: () => void }) {
  const [value, setValue] = useState("");
  const [refused, setRefused] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <div class="key-overlay">
      <form
        class="key-form"
        onSubmit={async (event) => {
          event.preventDefault();
          if (!value.trim() || busy) return;
          setBusy(true);
          try {
            await signIn(value.trim());
            setValue("");
            onSaved();
          } catch (error) {
            setRefused(error instanceof ApiError ? error.detail : String(error));
          } finally {
            setBusy(false);
          }
        }}
      >
        <h2>Sign in</h2>
        <p>
          {refused
            ? `The server refused this key: ${refused}. Enter another one.`
            : "This tether server needs an API key: paste the one you gave tether login. The browser keeps a session, not the key."}
        </p>
        <input
          name="api-key"
          type="password"
          autoComplete="off"
          placeholder="tth_…"
          value={value}
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
          autoFocus
        />
        <button type="submit" class="primary" disabled={busy}>
          Sign in
        </button>
      </form>
    </div>
  );
}
