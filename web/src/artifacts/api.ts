// The server's artifacts API (issue 15's contract, docs/api.md): a project's artifacts, an
// artifact's versions, one version with its files and lineage, file downloads, aliases.
// Downloads are plain same-origin links, so the session cookie authorises them and the browser
// streams the file to disk (Content-Disposition: attachment), whatever its size.
import { type Json, enc, get, projectPath, runPath, send } from "../api";

/** `GET P/artifacts`: one entry per artifact with a committed version. */
export interface ArtifactSummary {
  name: string;
  type: string;
  versions: number;
  latest: string;
  /** alias → "vN" (latest included). */
  aliases: Record<string, string>;
  /** Epoch seconds of the newest change. */
  updated: number;
}

export interface RunRef {
  id: string;
  name: string;
}

/** `GET P/artifacts/{name}/versions`: one entry per committed version, newest first. */
export interface VersionSummary {
  version: string;
  digest: string;
  size: number;
  /** How many files. */
  files: number;
  aliases: string[];
  created: number;
  /** The run that logged it (null when that run was deleted). */
  run: RunRef | null;
  metadata: Record<string, Json> | null;
}

export interface ArtifactFile {
  path: string;
  size: number;
  sha256: string;
  chunks?: string[];
}

/** `GET P/artifacts/{name}/{ref}`: one version, its files and its lineage. */
export interface VersionDetail extends Omit<VersionSummary, "files"> {
  name: string;
  type: string;
  files: ArtifactFile[];
  file_count: number;
  producer: RunRef | null;
  consumers: RunRef[];
}

export function artifactsPath(project: string): string {
  return `${projectPath(project)}/artifacts`;
}

export function versionsPath(project: string, name: string): string {
  return `${artifactsPath(project)}/${enc(name)}/versions`;
}

export function versionPath(project: string, name: string, ref: string): string {
  return `${artifactsPath(project)}/${enc(name)}/${enc(ref)}`;
}

/** The page's own URL for the artifacts of a project, an artifact, or one of its versions. */
export function artifactsPage(project: string, name?: string, ref?: string): string {
  let url = artifactsPath(project);
  if (name) url += `/${enc(name)}`;
  if (name && ref) url += `/${enc(ref)}`;
  return url;
}

/** The download URL of one file of a version: `path` keeps its slashes. */
export function fileUrl(project: string, name: string, ref: string, path: string): string {
  const parts = path.split("/").map(enc).join("/");
  return `/api/v1${versionPath(project, name, ref)}/files/${parts}`;
}

export function listArtifacts(project: string, signal?: AbortSignal): Promise<ArtifactSummary[]> {
  return get<ArtifactSummary[]>(artifactsPath(project), signal);
}

export function listVersions(project: string, name: string, signal?: AbortSignal): Promise<VersionSummary[]> {
  return get<VersionSummary[]>(versionsPath(project, name), signal);
}

export function getVersion(project: string, name: string, ref: string, signal?: AbortSignal): Promise<VersionDetail> {
  return get<VersionDetail>(versionPath(project, name, ref), signal);
}

/** Point `alias` at `version` (moving it from any other version). */
export function setAlias(project: string, name: string, alias: string, version: string): Promise<unknown> {
  return send("PUT", `${artifactsPath(project)}/${enc(name)}/aliases/${enc(alias)}`, { version });
}

export function removeAlias(project: string, name: string, alias: string): Promise<unknown> {
  return send("DELETE", `${artifactsPath(project)}/${enc(name)}/aliases/${enc(alias)}`);
}

/** Remove a version's record (its number is never given again; its bytes go at the next GC). */
export function deleteVersion(project: string, name: string, version: string): Promise<unknown> {
  return send("DELETE", versionPath(project, name, version));
}

/** One version in a run's artifacts: its summary, with its artifact's name and type. */
export interface RunVersion extends VersionSummary {
  name: string;
  type: string;
  /** For a used version: the ref the run asked for (`best`, `v3`). */
  ref?: string;
}

/** `GET P/runs/{run}/artifacts`: the versions the run logged (oldest first) and used. */
export interface RunArtifacts {
  logged: RunVersion[];
  used: RunVersion[];
}

/** What `run` logged and used, in one request. */
export function runArtifacts(project: string, run: string, signal?: AbortSignal): Promise<RunArtifacts> {
  return get<RunArtifacts>(`${runPath(project, run)}/artifacts`, signal);
}
