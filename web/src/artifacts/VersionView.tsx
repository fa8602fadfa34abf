// One version of an artifact: its aliases (moved, added, removed here), metadata, files with a
// download link each, and its lineage.
import { useState } from "preact/hooks";
import { ApiError, type Json, runPath } from "../api";
import { ErrorBox, Loading } from "../components";
import { flatten, formatBytes, formatTime, formatValue } from "../format";
import { useResource } from "../hooks";
import { type VersionDetail, deleteVersion, fileUrl, removeAlias, setAlias, versionPath } from "./api";
import { Lineage } from "./Lineage";

export function MetadataTable({ metadata }: { metadata: Record<string, Json> | null }) {
  const flat = flatten(metadata ?? {});
  const keys = Object.keys(flat).sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  if (keys.length === 0) return <p class="muted">no metadata</p>;
  return (
    <table class="simple" data-table="metadata">
      <tbody>
        {keys.map((key) => (
          <tr>
            <th>{key}</th>
            <td>{formatValue(flat[key])}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Aliases({ detail, project, onChange }: { detail: VersionDetail; project: string; onChange: () => void }) {
  const [adding, setAdding] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const act = async (work: () => Promise<unknown>) => {
    try {
      setProblem(null);
      await work();
      onChange();
    } catch (error) {
      setProblem(error instanceof ApiError ? error.detail : String(error));
    }
  };
  return (
    <div class="artifact-aliases">
      {detail.aliases.map((alias) => (
        <span class="tag alias" data-alias={alias}>
          {alias}
          {alias !== "latest" && (
            <button
              class="link"
              title={`remove the alias ${alias}`}
              aria-label={`remove alias ${alias}`}
              onClick={() => act(() => removeAlias(project, detail.name, alias))}
            >
              ×
            </button>
          )}
        </span>
      ))}
      <form
        class="alias-form"
        onSubmit={(event) => {
          event.preventDefault();
          const alias = adding.trim();
          if (!alias) return;
          act(() => setAlias(project, detail.name, alias, detail.version)).then(() => setAdding(""));
        }}
      >
        <input
          name="alias"
          placeholder="add alias (best, prod…)"
          value={adding}
          onInput={(e) => setAdding((e.target as HTMLInputElement).value)}
        />
        <button type="submit">set</button>
      </form>
      {problem && (
        <span class="error-text" role="alert">
          {problem}
        </span>
      )}
    </div>
  );
}

/** `onChanged`: an alias moved (the lists around it are stale); `onDeleted`: the version was
 * deleted (the page moves away from it). */
export function VersionView({
  project,
  name,
  reference,
  onChanged,
  onDeleted,
}: {
  project: string;
  name: string;
  reference: string;
  onChanged: () => void;
  onDeleted: () => void;
}) {
  const { data: detail, error, reload } = useResource<VersionDetail>(versionPath(project, name, reference));
  const [problem, setProblem] = useState<string | null>(null);
  if (!detail)
    return error ? (
      <ErrorBox error={error} what={`${name}:${reference}`} retry={reload} />
    ) : (
      <Loading what={`${name}:${reference}`} />
    );
  const remove = async () => {
    if (!confirm(`Delete ${name}:${detail.version}? Its number is never given again.`)) return;
    try {
      await deleteVersion(project, name, detail.version);
      onDeleted();
      reload(); // shown by an alias ("latest"), the URL stays: show what it names now
    } catch (caught) {
      setProblem(caught instanceof ApiError ? caught.detail : String(caught));
    }
  };
  return (
    <section class="artifact-version" data-version={detail.version} data-digest={detail.digest}>
      <div class="version-head">
        <h2>
          {detail.name}:{detail.version} <span class="muted">{detail.type}</span>
        </h2>
        <span class="spacer" />
        <button class="danger" onClick={remove}>
          delete version
        </button>
      </div>
      {problem && <div class="banner error">Could not delete: {problem}</div>}
      <div class="facts">
        <span title="sha256 of the file list">digest {detail.digest.slice(0, 12)}</span>
        <span>{formatBytes(detail.size)}</span>
        <span>
          {detail.file_count} {detail.file_count === 1 ? "file" : "files"}
        </span>
        <span>logged {formatTime(detail.created)}</span>
        {detail.producer && (
          <span>
            by <a href={runPath(project, detail.producer.id)}>{detail.producer.name || detail.producer.id}</a>
          </span>
        )}
      </div>
      <Aliases
        detail={detail}
        project={project}
        onChange={() => {
          reload();
          onChanged();
        }}
      />
      <h3>lineage</h3>
      <div class="lineage-wrap">
        <Lineage
          project={project}
          name={detail.name}
          version={detail.version}
          producer={detail.producer}
          consumers={detail.consumers}
        />
      </div>
      <h3>files</h3>
      <table class="simple artifact-files" data-table="files">
        <thead>
          <tr>
            <th>path</th>
            <th class="num">size</th>
            <th>sha256</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {detail.files.map((file) => (
            <tr data-path={file.path}>
              <td class="mono">{file.path}</td>
              <td class="num" data-bytes={file.size}>
                {formatBytes(file.size)}
              </td>
              <td class="mono muted" title={file.sha256}>
                {file.sha256.slice(0, 12)}
                {file.chunks && <span title="stored in chunks"> ({file.chunks.length} chunks)</span>}
              </td>
              <td>
                <a href={fileUrl(project, detail.name, detail.version, file.path)} download>
                  download
                </a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>metadata</h3>
      <MetadataTable metadata={detail.metadata} />
    </section>
  );
}
