import type { Project } from "../api";
import { enc } from "../api";
import { ErrorBox, Loading } from "../components";
import { formatTime } from "../format";
import { useResource } from "../hooks";

export function ProjectsPage() {
  const { data, error, reload } = useResource<Project[]>("/projects");
  if (error && !data) return <ErrorBox error={error} what="projects" retry={reload} />;
  if (!data) return <Loading what="projects" />;
  if (data.length === 0) {
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
      <h1>Projects</h1>
      <table class="simple projects">
        <thead>
          <tr>
            <th>project</th>
            <th class="num">runs</th>
            <th>last update</th>
          </tr>
        </thead>
        <tbody>
          {data.map((project) => (
            <tr key={project.name}>
              <td>
                <a href={`/projects/${enc(project.name)}`}>{project.name}</a>
              </td>
              <td class="num">{project.runs.toLocaleString()}</td>
              <td>{formatTime(project.updated_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
