// A team: its members and roles; its admins add members, change roles and manage its keys.
import { useState } from "preact/hooks";
import { ApiError, enc, send } from "../api";
import { ErrorBox, Loading } from "../components";
import { useResource } from "../hooks";
import { KeyManager } from "./Keys";

interface Member {
  user: string;
  role: string;
}

interface TeamAnswer {
  name: string;
  members: Member[];
}

const ROLES = ["viewer", "member", "admin"];

export function TeamPage({ team }: { team: string }) {
  const path = `/teams/${enc(team)}`;
  const { data, error, reload } = useResource<TeamAnswer>(path);
  const viewer = useResource<{ user: string; admin: boolean }>("/viewer");
  const [newUser, setNewUser] = useState("");
  const [newRole, setNewRole] = useState("member");
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
  if (error && !data) return <ErrorBox error={error} what={`team ${team}`} retry={reload} />;
  if (!data || !viewer.data) return <Loading what={`team ${team}`} />;
  const me = viewer.data;
  const manages = me.admin || data.members.some((m) => m.user === me.user && m.role === "admin");
  const setRole = (user: string, role: string) => act(() => send("PUT", `${path}/members/${enc(user)}`, { role }));
  return (
    <div class="page team-page">
      <h1>Team {data.name}</h1>
      <table class="simple members">
        <thead>
          <tr>
            <th>member</th>
            <th>role</th>
            {manages && <th />}
          </tr>
        </thead>
        <tbody>
          {data.members.map((member) => (
            <tr key={member.user} data-member={member.user}>
              <td>{member.user}</td>
              <td>
                {manages ? (
                  <select
                    aria-label={`role of ${member.user}`}
                    value={member.role}
                    onChange={(e) => setRole(member.user, e.currentTarget.value)}
                  >
                    {ROLES.map((role) => (
                      <option key={role}>{role}</option>
                    ))}
                  </select>
                ) : (
                  member.role
                )}
              </td>
              {manages && (
                <td>
                  <button class="link" onClick={() => act(() => send("DELETE", `${path}/members/${enc(member.user)}`))}>
                    remove
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {manages && (
        <>
          <form
            class="add-member"
            onSubmit={(event) => {
              event.preventDefault();
              if (newUser) setRole(newUser, newRole).then(() => setNewUser(""));
            }}
          >
            <input
              aria-label="user"
              placeholder="user name"
              value={newUser}
              onInput={(e) => setNewUser(e.currentTarget.value)}
            />
            <select aria-label="role" value={newRole} onChange={(e) => setNewRole(e.currentTarget.value)}>
              {ROLES.map((role) => (
                <option key={role}>{role}</option>
              ))}
            </select>
            <button type="submit">Add member</button>
          </form>
          {failure && (
            <div class="error-box" role="alert">
              {failure}
            </div>
          )}
          <h2>Team keys</h2>
          <p>A team key reads and writes the team's runs (for CI); it manages nothing.</p>
          <KeyManager path={`${path}/keys`} what="the team's keys" />
        </>
      )}
    </div>
  );
}
