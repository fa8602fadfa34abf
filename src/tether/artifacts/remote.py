"""Artifacts on a server: versions, listings, file downloads and aliases over HTTP.

Used by ``tether.Api().artifact()``/``.artifacts()``, by ``use_artifact`` of an online run
and by ``tether artifact``; it speaks the server's artifact routes (docs/api.md) under a
project's path (``project`` or ``owner/project``). A file is streamed piece by piece, so a
download holds one piece in memory whatever the file's size:

- with an S3 blob store, the server's version answer (``?urls=true``) carries a presigned GET
  URL per chunk, and the bytes come straight from the store (the server never carries them);
  a URL that fails before its first byte (expired, the store unreachable from here) falls
  back to the server;
- otherwise from ``.../artifacts/{name}/{version}/files/{path}``, through the server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from tether.artifacts import manifest
from tether.artifacts.artifact import Artifact, Reader
from tether.artifacts.manifest import ArtifactFile
from tether.errors import NotOnServerError, ServerUnreachableError
from tether.sync.http import CONNECT_TIMEOUT_S, READ_TIMEOUT_S, HttpClient, project_path, quote_part

_PIECE: Final = 1024 * 1024


def split_path(path: object) -> tuple[str, str, str]:
    """``"[owner/]project/name[:ref]"`` as ``(project, name, ref)``, ``project`` keeping its
    ``owner/``; ``ValueError`` with the accepted form."""
    if not isinstance(path, str) or "/" not in path:
        raise ValueError(
            f"artifact {path!r:.120}: give 'project/name:ref' or 'owner/project/name:ref', "
            "e.g. 'mnist/resnet:latest' or 'lab/mnist/resnet:v3'"
        )
    project, _, spec = path.rpartition("/")
    if not project or project.count("/") > 1 or "" in project.split("/"):
        raise ValueError(
            f"artifact {path!r:.120}: {project!r} is not 'project' or 'owner/project'; "
            "e.g. 'mnist/resnet:latest'"
        )
    name, ref = manifest.split_ref(spec)
    return project, name, ref


AliasRecorder = Callable[[str, str, str], None]  # (name, digest, alias)


class Remote:
    """The artifacts of one project on one server, through ``client``.

    ``record_alias``, given inside a run, is how the versions it returns take an alias: as a
    record of the run, uploaded with it (a server that is down never reaches the user's
    training); without it (``tether.Api``), ``set_alias`` asks the server at once."""

    def __init__(
        self, client: HttpClient, project: str, *, record_alias: AliasRecorder | None = None
    ) -> None:
        self._client = client
        self.project = project
        self._record_alias = record_alias
        self._owner = project.rpartition("/")[0] or None
        self._base = f"{project_path(project)}/artifacts"

    def names(self, *, type: str | None = None) -> list[dict[str, Any]]:
        """``[{"name", "type", "versions", "latest", "aliases", "updated"}]``."""
        params = {"type": type} if type is not None else None
        answer: list[dict[str, Any]] = self._client.get_json(self._base, params)
        return answer

    def versions(self, name: str) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = self._client.get_json(
            f"{self._base}/{quote_part(manifest.check_name(name))}/versions"
        )
        return answer

    def version(self, name: str, ref: str) -> Artifact:
        """The version ``ref`` (``vN`` or an alias) names; ``ValueError`` when the server has
        no such version (its message names the versions and aliases there are)."""
        manifest.check_name(name)
        try:
            data = self._client.get_json(
                f"{self._base}/{quote_part(name)}/{quote_part(ref)}", {"urls": "true"}
            )
        except NotOnServerError as exc:
            raise ValueError(
                f"artifact '{name}:{ref}' is not in project {self.project!r} on "
                f"{self._client.base_url}: {exc}"
            ) from exc
        return self.artifact(data)

    def artifact(self, data: dict[str, Any]) -> Artifact:
        """An ``Artifact`` from the server's answer for one version."""
        name = str(data["name"])
        version = str(data["version"])
        files = manifest.files_of(data)
        urls = {
            entry["path"]: entry["urls"]
            for entry in data["files"]
            if isinstance(entry.get("urls"), list)
            and all(isinstance(u, str) for u in entry["urls"])
        }
        return Artifact(
            name=name,
            version=version,
            type=str(data.get("type", "")),
            digest=str(data["digest"]),
            files=files,
            metadata=dict(data.get("metadata") or {}),
            aliases=list(data.get("aliases") or []),
            committed=True,
            owner=self.owner(),
            project=self.project.rpartition("/")[2],
            reader=self.reader(name, version, urls),
            on_alias=self._on_alias(name, version, str(data["digest"])),
            producer=data.get("producer"),
        )

    def _on_alias(self, name: str, version: str, digest: str) -> Callable[[str], None]:
        record = self._record_alias
        if record is not None:
            return lambda alias: record(name, digest, alias)
        return lambda alias: self.set_alias(name, version, alias)

    def owner(self) -> str:
        """The namespace: the one in the project's path, else the key's own user."""
        if self._owner is None:
            self._owner = str(self._client.get_json("/viewer")["user"])
        return self._owner

    def reader(
        self, name: str, version: str, urls: Mapping[str, list[str]] | None = None
    ) -> Reader:
        """Reads a file from the store's presigned URLs when given, else via the server."""

        def read(file: ArtifactFile) -> Iterator[bytes]:
            signed = (urls or {}).get(file.path)
            if signed:
                started = False
                try:
                    for url in signed:
                        for piece in _presigned(url):
                            started = True
                            yield piece
                    return
                except ServerUnreachableError:
                    if started:
                        raise
            path = "/".join(quote_part(part) for part in file.path.split("/"))
            url = f"{self._base}/{quote_part(name)}/{quote_part(version)}/files/{path}"
            yield from self._client.iter_bytes(url)

        return read

    def set_alias(self, name: str, version: str, alias: str) -> None:
        self._client.put_json(
            f"{self._base}/{quote_part(name)}/aliases/{quote_part(manifest.check_alias(alias))}",
            {"version": version},
        )


def _presigned(url: str) -> Iterator[bytes]:
    """A presigned GET straight to the object store (no key of ours is sent there)."""
    import httpx

    timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    try:
        with httpx.stream("GET", url, timeout=timeout) as response:
            if response.status_code >= 400:
                raise ServerUnreachableError(
                    f"the object store answered {response.status_code} to a presigned GET"
                )
            yield from response.iter_bytes(_PIECE)
    except httpx.HTTPError as exc:
        raise ServerUnreachableError(f"the object store failed a presigned GET ({exc})") from exc
