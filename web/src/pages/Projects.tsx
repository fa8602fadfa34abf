// The projects of every namespace the signed-in user can read: its own and each team's
// (`GET /owners`), with a switcher that narrows the list to one owner (?owner=, so it links).
import { useEffect, useState } from "preact/hooks";
import type { Owner, Project } from "../api";
import { ApiError, enc, get, isAbort, projectPath } from "../api";
import { ErrorBox, Loading } from "../components";
import { formatTime } from "../format";
import { useResource } from "../hooks";
import { navigate } from "../router";

interface OwnerProjects {
  owner: Owner;
  projects: Project[];
  error: ApiError | null;
}

/** Each owner's projects, asked for all at once; one owner's failure leaves the others. */
function useOwnerProjects(owners: Owner[] | null): OwnerProjects[] | null {
  const [loaded, setLoaded] = useState<{ owners: Owner[]; lists: OwnerProjects[] } | null>(null);
  useEffect(() => {
    if (owners === null) return;
    const controller = new AbortController();
    const one = (owner: Owner): Promise<OwnerProjects> =>
      get<Project[]>(`/owners/${enc(owner.name)}/projects`, controller.signal).then(
        (projects) => ({ owner, projects, error: null }),
        (error: unknown) => {
          if (isAbort(error)) throw error;
          const failure = error instanceof ApiError ? error : new ApiError(0, String(error));
          return { owner, projects: [], error: failure };
        },
      );
    Promise.all(owners.map(one)).then(
      (lists) => setLoaded({ owners, lists }),
      () => undefined, // aborted: a newer list of owners is loading
    );
    return () => controller.abort();
  }, [owners]);
  return loaded !== null && loaded.owners === owners ? loaded.lists : null;
}

function describeOwner(owner: Owner): string {
  return owner.kind === "team" ? `${owner.name} (team, ${owner.role})` : `${owner.name} (you)`;
}

export function ProjectsPage({ query }: { query: URLSearchParams }) {
  const { data: owners, error, reload } = useResource<Owner[]>("/owners");
  const lists = useOwnerProjects(owners);
  if (error && !owners) return <ErrorBox error={error} what="owners" retry={reload} />;
  if (!owners || !lists) return <Loading what="projects" />;
  const chosen = query.get("owner") ?? "";
  const shown = lists.filter((list) => !chosen || list.owner.name === chosen);
  const rows = shown.flatMap(({ owner, projects }) => projects.map((project) => ({ owner, project })));
  if (!chosen && rows.length === 0 && lists.every((list) => !list.error)) {
    return (
      <div class="empty-page">
        <h1>No projects yet</h1>
        <p>
          Runs appear here once they are uploaded: train with <code>TETHER_BASE_URL</code> and{" "}
          <code>TETHER_API_KEY</code> set, or upload offline runs with <code>tether sync</code>.
        </p>
      </div>
    );
  }
  return (
    <div class="page">
      <h1 class="inline">Projects</h1>{" "}
      <label class="owner-switcher">
        owner{" "}
        <select
          aria-label="owner"
          value={chosen}
          onChange={(event) => {
            const name = (event.target as HTMLSelectElement).value;
            navigate(name ? `/projects?owner=${enc(name)}` : "/", { replace: true });
          }}
        >
          <option value="">all owners</option>
          {owners.map((owner) => (
            <option key={owner.name} value={owner.name}>
              {describeOwner(owner)}
            </option>
          ))}
        </select>
      </label>
      {shown
        .filter((list) => list.error)
        .map((list) => (
          <ErrorBox key={list.owner.name} error={list.error!} what={`${list.owner.name}'s projects`} />
        ))}
      <table class="simple projects">
        <thead>
          <tr>
            <th>owner</th>
            <th>project</th>
            <th class="num">runs</th>
            <th>last update</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(({ owner, project }) => (
            <tr key={`${owner.name}/${project.name}`} data-owner={owner.name}>
              <td>
                {owner.name}
                {owner.kind === "team" && <span class="muted owner-kind"> (team)</span>}
              </td>
              <td>
                <a href={projectPath(`${owner.name}/${project.name}`)}>{project.name}</a>
              </td>
              <td class="num">{project.runs.toLocaleString()}</td>
              <td>{formatTime(project.updated_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length === 0 && <p class="muted">No projects here yet.</p>}
    </div>
  );
}
