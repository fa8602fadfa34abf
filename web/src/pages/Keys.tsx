// Settings: one's own API keys (create: shown once; revoke) and the teams one is in.
import { useState } from "preact/hooks";
import { ApiError, enc, send } from "../api";
import { ErrorBox, Loading } from "../components";
import { formatTime } from "../format";
import { useResource } from "../hooks";

export interface KeyInfo {
  id: number;
  prefix: string;
  description: string | null;
  created_at: number;
  last_used_at: number | null;
  expires_at: number | null;
  state: "active" | "expired" | "revoked";
  from_env: boolean;
}

interface CreatedKey {
  id: number;
  key: string;
}

interface TeamRole {
  name: string;
  role: string;
}

/** A list of keys with a revoke button each, and a form for a new one (shown once). */
export function KeyManager({ path, what }: { path: string; what: string }) {
  const { data, error, reload } = useResource<KeyInfo[]>(path);
  const [description, setDescription] = useState("");
  const [days, setDays] = useState("");
  const [created, setCreated] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const act = async (action: () => Promise<unknown>) => {
    setFailure(null);
    try {
      await action();
      reload();
    } catch (caught) {
      setFailure(caught instanceof ApiError ? caught.detail : String(caught));
    }
  };
  const create = (event: Event) => {
    event.preventDefault();
    const expires = days ? Date.now() / 1000 + Number(days) * 86400 : null;
    act(async () => {
      const made = await send<CreatedKey>("POST", path, { description: description || null, expires_at: expires });
      setCreated(made.key);
      setDescription("");
      setDays("");
    });
  };
  if (error && !data) return <ErrorBox error={error} what={what} retry={reload} />;
  if (!data) return <Loading what={what} />;
  return (
    <section class="key-manager">
      <table class="simple keys">
        <thead>
          <tr>
            <th>prefix</th>
            <th>description</th>
            <th>state</th>
            <th>created</th>
            <th>last used</th>
            <th>expires</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {data.map((key) => (
            <tr key={key.id} data-key={key.prefix} data-state={key.state}>
              <td>
                <code>{key.prefix}…</code>
              </td>
              <td>{key.description ?? ""}</td>
              <td>{key.state}</td>
              <td>{formatTime(key.created_at)}</td>
              <td>{formatTime(key.last_used_at) || "never"}</td>
              <td>{formatTime(key.expires_at) || "never"}</td>
              <td>
                {key.state === "active" && !key.from_env && (
                  <button class="link" onClick={() => act(() => send("DELETE", `${path}/${key.id}`))}>
                    revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form class="new-key" onSubmit={create}>
        <input
          aria-label="description"
          placeholder="what the key is for"
          value={description}
          onInput={(e) => setDescription(e.currentTarget.value)}
        />
        <input
          aria-label="expires in days"
          placeholder="expires in days (empty: never)"
          inputMode="numeric"
          value={days}
          onInput={(e) => setDays(e.currentTarget.value)}
        />
        <button type="submit">Create key</button>
      </form>
      {created && (
        <p class="created-key" role="status">
          The new key, shown this once: <code>{created}</code>
        </p>
      )}
      {failure && (
        <div class="error-box" role="alert">
          {failure}
        </div>
      )}
    </section>
  );
}

export function KeysPage() {
  const teams = useResource<TeamRole[]>("/teams");
  return (
    <div class="page">
      <h1>Your API keys</h1>
      <KeyManager path="/keys" what="your keys" />
      <h2>Your teams</h2>
      {teams.data && teams.data.length === 0 && <p>You are in no team.</p>}
      <ul class="teams">
        {(teams.data ?? []).map((team) => (
          <li key={team.name}>
            <a href={`/teams/${enc(team.name)}`}>{team.name}</a> ({team.role})
          </li>
        ))}
      </ul>
    </div>
  );
}
