// A project's artifacts: the list (filtered by type), the chosen artifact's versions with their
// aliases, and the chosen version (latest by default) with its files, metadata and lineage.
// Every choice is in the URL: /projects/{p}/artifacts[/{name}[/{ref}]].
import { runPath } from "../api";
import { ErrorBox, Loading } from "../components";
import { formatBytes, formatTime } from "../format";
import { useResource } from "../hooks";
import { navigate } from "../router";
import { type ArtifactSummary, type VersionSummary, artifactsPage, artifactsPath, versionsPath } from "./api";
import { VersionView } from "./VersionView";
import "./artifacts.css";

function ArtifactList({
  project,
  artifacts,
  chosen,
  type,
}: {
  project: string;
  artifacts: ArtifactSummary[];
  chosen: string | null;
  type: string;
}) {
  const types = [...new Set(artifacts.map((a) => a.type))].sort();
  const shown = artifacts.filter((a) => !type || a.type === type);
  return (
    <aside class="artifact-list">
      <div class="toolbar">
        <select
          aria-label="type"
          value={type}
          onChange={(e) => {
            const value = (e.target as HTMLSelectElement).value;
            const base = artifactsPage(project, chosen ?? undefined);
            navigate(value ? `${base}?type=${encodeURIComponent(value)}` : base, { replace: true });
          }}
        >
          <option value="">every type</option>
          {types.map((t) => (
            <option value={t}>{t}</option>
          ))}
        </select>
        <span class="muted">
          {shown.length} {shown.length === 1 ? "artifact" : "artifacts"}
        </span>
      </div>
      <ul>
        {shown.map((a) => (
          <li class={a.name === chosen ? "active" : ""} data-artifact={a.name}>
            <a href={artifactsPage(project, a.name) + (type ? `?type=${encodeURIComponent(type)}` : "")}>
              <span class="artifact-name">{a.name}</span>
              <span class="muted">
                {a.type} · {a.versions} {a.versions === 1 ? "version" : "versions"} · {formatTime(a.updated)}
              </span>
            </a>
          </li>
        ))}
      </ul>
    </aside>
  );
}

function VersionTable({
  project,
  name,
  versions,
  chosen,
}: {
  project: string;
  name: string;
  versions: VersionSummary[];
  chosen: string;
}) {
  return (
    <table class="simple artifact-versions" data-table="versions">
      <thead>
        <tr>
          <th>version</th>
          <th>aliases</th>
          <th class="num">size</th>
          <th class="num">files</th>
          <th>logged</th>
          <th>by run</th>
        </tr>
      </thead>
      <tbody>
        {versions.map((v) => (
          <tr
            class={v.version === chosen || v.aliases.includes(chosen) ? "active" : ""}
            data-version={v.version}
            onClick={(event) => {
              if ((event.target as Element).closest("a")) return;
              navigate(artifactsPage(project, name, v.version));
            }}
          >
            <td>
              <a href={artifactsPage(project, name, v.version)}>{v.version}</a>
            </td>
            <td>
              {v.aliases.map((alias) => (
                <span class="tag alias">{alias}</span>
              ))}
            </td>
            <td class="num">{formatBytes(v.size)}</td>
            <td class="num">{v.files}</td>
            <td>{formatTime(v.created)}</td>
            <td>{v.run ? <a href={runPath(project, v.run.id)}>{v.run.name || v.run.id}</a> : "—"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ArtifactView({
  project,
  name,
  reference,
  onChanged,
}: {
  project: string;
  name: string;
  reference: string;
  onChanged: () => void;
}) {
  const { data: versions, error, reload } = useResource<VersionSummary[]>(versionsPath(project, name));
  if (!versions)
    return error ? <ErrorBox error={error} what={`artifact ${name}`} retry={reload} /> : <Loading what={name} />;
  return (
    <div class="artifact-view" data-artifact={name}>
      <h2>
        {name}{" "}
        <span class="muted">
          {versions.length} {versions.length === 1 ? "version" : "versions"}
        </span>
      </h2>
      <VersionTable project={project} name={name} versions={versions} chosen={reference} />
      <VersionView
        key={`${name}:${reference}`}
        project={project}
        name={name}
        reference={reference}
        onChanged={() => {
          reload();
          onChanged();
        }}
        onDeleted={() => {
          // The last version gone, the artifact is too: back to the project's artifacts.
          navigate(versions.length > 1 ? artifactsPage(project, name) : artifactsPage(project), { replace: true });
          reload();
          onChanged();
        }}
      />
    </div>
  );
}

export function ArtifactsPage({
  project,
  name,
  reference,
  query,
}: {
  project: string;
  name: string | null;
  reference: string | null;
  query: URLSearchParams;
}) {
  const type = query.get("type") ?? "";
  const { data: artifacts, error, reload } = useResource<ArtifactSummary[]>(artifactsPath(project));
  if (!artifacts)
    return error ? <ErrorBox error={error} what="the artifacts" retry={reload} /> : <Loading what="the artifacts" />;
  const chosen = name ?? null;
  return (
    <div class="page artifacts-page">
      <div class="toolbar">
        <h1 class="inline">{project}: artifacts</h1>
      </div>
      {artifacts.length === 0 ? (
        <div class="empty">
          No artifacts in this project yet. Log one with <code>run.log_artifact("model.pt", "my-model")</code>.
        </div>
      ) : (
        <div class="artifacts-layout">
          <ArtifactList project={project} artifacts={artifacts} chosen={chosen} type={type} />
          {chosen ? (
            <ArtifactView
              key={chosen}
              project={project}
              name={chosen}
              reference={reference ?? "latest"}
              onChanged={reload}
            />
          ) : (
            <div class="empty">Choose an artifact to see its versions.</div>
          )}
        </div>
      )}
    </div>
  );
}
