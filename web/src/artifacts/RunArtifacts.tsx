// The run page's artifacts tab: the versions this run logged, and those it used (lineage),
// from one request (GET R/artifacts).
import { useEffect, useState } from "preact/hooks";
import { ApiError, isAbort, runPath } from "../api";
import { ErrorBox, Loading } from "../components";
import { formatBytes, formatTime } from "../format";
import { type RunArtifacts as Found, type RunVersion, artifactsPage, runArtifacts } from "./api";
import "./artifacts.css";

export function RunArtifacts({ project, run }: { project: string; run: string }) {
  const [found, setFound] = useState<Found | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    setError(null);
    runArtifacts(project, run, controller.signal).then(setFound, (caught: unknown) => {
      if (isAbort(caught)) return;
      setError(caught instanceof ApiError ? caught : new ApiError(0, String(caught)));
    });
    return () => controller.abort();
  }, [project, run, tick]);
  if (!found)
    return error ? (
      <ErrorBox error={error} what="the run's artifacts" retry={() => setTick((t) => t + 1)} />
    ) : (
      <Loading what="the artifacts" />
    );
  if (found.logged.length === 0 && found.used.length === 0)
    return (
      <div class="empty">
        This run logged and used no artifacts (<code>run.log_artifact(path)</code>,{" "}
        <code>run.use_artifact("name:latest")</code>).
      </div>
    );
  return (
    <div class="run-artifacts">
      <VersionTable project={project} which="logged" versions={found.logged} />
      <VersionTable project={project} which="used" versions={found.used} />
    </div>
  );
}

/** One half of the tab: the versions the run logged, or those it used (the same columns). */
function VersionTable({
  project,
  which,
  versions,
}: {
  project: string;
  which: "logged" | "used";
  versions: RunVersion[];
}) {
  return (
    <section data-section={which}>
      <h2>
        {which} <span class="muted">{versions.length}</span>
      </h2>
      {versions.length === 0 ? (
        <p class="muted">none</p>
      ) : (
        <table class="simple" data-table={which}>
          <thead>
            <tr>
              <th>artifact</th>
              <th>type</th>
              <th>aliases</th>
              <th class="num">size</th>
              <th class="num">files</th>
              <th>logged</th>
              <th>logged by</th>
            </tr>
          </thead>
          <tbody>
            {versions.map(({ name, type, ref, ...version }) => (
              <tr data-artifact={`${name}:${version.version}`}>
                <td>
                  <a
                    href={artifactsPage(project, name, version.version)}
                    title={ref ? `asked for as ${name}:${ref}` : undefined}
                  >
                    {name}:{version.version}
                  </a>
                </td>
                <td>{type}</td>
                <td>
                  {version.aliases.map((alias) => (
                    <span class="tag alias">{alias}</span>
                  ))}
                </td>
                <td class="num">{formatBytes(version.size)}</td>
                <td class="num">{version.files}</td>
                <td>{formatTime(version.created)}</td>
                <td>
                  {version.run ? (
                    <a href={runPath(project, version.run.id)}>{version.run.name || version.run.id}</a>
                  ) : (
                    "—"
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
