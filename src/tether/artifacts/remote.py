"""Artifacts on a server: versions, listings, file downloads and aliases over HTTP.

Used by ``tether.Api().artifact()``/``.artifacts()``, by ``use_artifact`` of an online run
and by ``tether artifact``; it speaks the server's artifact routes (docs/api.md) under a
project's path (``project`` or ``owner/project``). A file is streamed from
``.../artifacts/{name}/{version}/files/{path}`` piece by piece, so a download holds one piece
in memory whatever the file's size.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tether.artifacts import manifest
from tether.artifacts.artifact import Artifact, Reader
from tether.artifacts.manifest import ArtifactFile
from tether.errors import NotOnServerError
from tether.sync.http import HttpClient, project_path, quote_part


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


class Remote:
    """The artifacts of one project on one server, through ``client``."""

    def __init__(self, client: HttpClient, project: str) -> None:
        self._client = client
        self.project = project
        self.owner = project.rpartition("/")[0] or None
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
            data = self._client.get_json(f"{self._base}/{quote_part(name)}/{quote_part(ref)}")
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
        return Artifact(
            name=name,
            version=version,
            type=str(data.get("type", "")),
            digest=str(data["digest"]),
            files=files,
            metadata=dict(data.get("metadata") or {}),
            aliases=list(data.get("aliases") or []),
            committed=True,
            owner=self.owner,
            project=self.project.rpartition("/")[2],
            reader=self.reader(name, version),
            on_alias=lambda alias: self.set_alias(name, version, alias),
            producer=data.get("producer"),
        )

    def reader(self, name: str, version: str) -> Reader:
        def read(file: ArtifactFile) -> Iterator[bytes]:
            path = "/".join(quote_part(part) for part in file.path.split("/"))
            url = f"{self._base}/{quote_part(name)}/{quote_part(version)}/files/{path}"
            yield from self._client.iter_bytes(url)

        return read

    def set_alias(self, name: str, version: str, alias: str) -> None:
        self._client.put_json(
            f"{self._base}/{quote_part(name)}/aliases/{quote_part(manifest.check_alias(alias))}",
            {"version": version},
        )
