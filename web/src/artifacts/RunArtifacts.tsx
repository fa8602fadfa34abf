// The run page's artifacts tab: the versions this run logged, and those it used (lineage).
import { useEffect, useState } from "preact/hooks";
import { ApiError, isAbort, runPath } from "../api";
import { ErrorBox, Loading } from "../components";
import { formatBytes, formatTime } from "../format";
import { type RunArtifacts as Found, artifactsPage, runArtifacts } from "./api";
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
      <section data-section="logged">
        <h2>
          logged <span class="muted">{found.logged.length}</span>
        </h2>
        {found.logged.length === 0 ? (
          <p class="muted">none</p>
        ) : (
          <table class="simple" data-table="logged">
            <thead>
              <tr>
                <th>artifact</th>
                <th>type</th>
                <th>aliases</th>
                <th class="num">size</th>
                <th class="num">files</th>
                <th>logged</th>
              </tr>
            </thead>
            <tbody>
              {found.logged.map(({ name, type, version }) => (
                <tr data-artifact={`${name}:${version.version}`}>
                  <td>
                    <a href={artifactsPage(project, name, version.version)}>
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
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section data-section="used">
        <h2>
          used <span class="muted">{found.used.length}</span>
        </h2>
        {found.used.length === 0 ? (
          <p class="muted">none</p>
        ) : (
          <table class="simple" data-table="used">
            <thead>
              <tr>
                <th>artifact</th>
                <th>type</th>
                <th>aliases</th>
                <th class="num">size</th>
                <th>logged by</th>
              </tr>
            </thead>
            <tbody>
              {found.used.map(({ name, type, version }) => (
                <tr data-artifact={`${name}:${version.version}`}>
                  <td>
                    <a href={artifactsPage(project, name, version.version)}>
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
                  <td>
                    {version.producer ? (
                      <a href={runPath(project, version.producer.id)}>{version.producer.name || version.producer.id}</a>
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
    </div>
  );
}
