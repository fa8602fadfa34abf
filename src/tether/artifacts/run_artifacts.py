"""What a ``Run`` does for ``log_artifact`` and ``use_artifact`` (``Run`` only delegates).

``log``: snapshot the path into the run's blobs (``snapshot``), number the version in the
local index (``local_index``), and write a ``log`` record through this process's writer; the
uploader sends the record's blobs before it (``tether.sync.blobs``) and the server makes the
version visible once all of them are there. Any process of the run may log one.

``use``: find the version (the server first when the run is online, else the local index),
write a ``use`` record (lineage), and return the ``Artifact``, ready to ``download()``.

The user's mistakes raise at once (a missing path, a bad name, ``name:v99``); a chunk the
run's disk refuses is our own failure: one warning, and the artifact is returned without a
version (nothing names the chunks that could not be stored).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec

from tether._diagnostics import warn_failure
from tether.artifacts import manifest
from tether.artifacts.artifact import Artifact
from tether.artifacts.local_index import LocalIndex, blob_reader
from tether.artifacts.manifest import ArtifactFile
from tether.artifacts.snapshot import StoreError, snapshot
from tether.errors import NotOnServerError, ServerError, ServerUnreachableError
from tether.store import format as fmt

if TYPE_CHECKING:
    from tether.artifacts.remote import Remote

MAX_METADATA_BYTES: Final = 64 * 1024
MAX_DEPTH: Final = 16
_TYPE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class RunArtifacts:
    """The artifacts one run logs and uses, in this process."""

    def __init__(
        self,
        *,
        run_id: str,
        run_dir: Path,
        project: str,
        record: Callable[[list[Any]], None],
        client: Any = None,  # tether._client_config.ClientConfig of an online run
        disabled: bool = False,  # mode="disabled": check the call, store and record nothing
    ) -> None:
        self._disabled = disabled
        self._run_id = run_id
        self._run_dir = run_dir
        self._project = project
        self._record = record
        self._client = client
        self._http: Any = None  # tether.sync.http.HttpClient, made on the first remote use
        self._http_pid = 0  # the process that made it (a connection pool is not fork-safe)
        self._index = LocalIndex(run_dir.parent, project.rpartition("/")[2] or project)

    def log(
        self,
        path: str | os.PathLike[str],
        name: str | None,
        *,
        type: str,
        metadata: Mapping[str, Any] | None,
        aliases: Iterable[str] | str,
    ) -> Artifact:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(
                f"log_artifact(): path must be a str or a pathlib.Path, got "
                f"{path.__class__.__name__} {path!r:.80}"
            )
        name = manifest.check_name(default_name(path) if name is None else name)
        type = _checked_type(type)
        metadata = _checked_metadata(metadata)
        alias_list = manifest.check_aliases(aliases)
        if self._disabled:
            if not Path(path).exists():
                raise FileNotFoundError(f"log_artifact(): {str(path)!r} does not exist")
            return self._artifact(name, None, type, [], metadata, alias_list)
        try:
            files = snapshot(path, self._run_dir)
        except StoreError as exc:
            warn_failure(
                "artifact-store",
                f"artifact {name!r} is not logged: {exc.strerror}; free some disk space and "
                "log it again",
            )
            return self._artifact(name, None, type, [], metadata, alias_list)
        info = manifest.log_info(
            name=name, type=type, files=files, metadata=metadata, aliases=alias_list
        )
        self._record([fmt.K_ARTIFACT, time.time(), info])
        version: str | None = None
        try:
            entry = self._index.add(
                name,
                digest=info["digest"],
                type=type,
                files=files,
                metadata=metadata,
                aliases=_with_latest(alias_list),
                run_id=self._run_id,
                run_dir=self._run_dir,
            )
            version, alias_list = entry["version"], entry["aliases"]
        except OSError as exc:  # the record is written: only the local number is unknown
            warn_failure("artifact-index", f"artifact {name!r}: the local index failed ({exc})")
        return self._artifact(name, version, type, files, metadata, alias_list)

    def use(self, spec: str) -> Artifact:
        name, ref = manifest.split_ref(spec)
        artifact = None
        if self._client is not None:
            try:
                artifact = self._remote(name, ref)
            except ValueError:  # not on the server: maybe logged here and not synced yet
                try:
                    artifact = self._local(name, ref)
                except ValueError:
                    pass
                if artifact is None:
                    raise
        if artifact is None:
            artifact = self._local(name, ref)
        self._record(
            [
                fmt.K_ARTIFACT,
                time.time(),
                manifest.use_info(name=name, ref=ref, digest=artifact.digest),
            ]
        )
        return artifact

    # -- building Artifacts -----------------------------------------------------------------
    def _artifact(
        self,
        name: str,
        version: str | None,
        type: str,
        files: list[ArtifactFile],
        metadata: dict[str, Any],
        aliases: list[str],
    ) -> Artifact:
        digest = manifest.digest_of(files)
        return Artifact(
            name=name,
            version=version,
            type=type,
            digest=digest,
            files=files,
            metadata=metadata,
            aliases=aliases,
            committed=False,
            project=self._project,
            reader=blob_reader(self._run_dir),
            on_alias=(lambda alias: self._set_alias(name, version, digest, alias))
            if version is not None
            else None,
            lookup=(lambda: self._committed(name, digest)) if self._client is not None else None,
        )

    def _committed(self, name: str, digest: str) -> dict[str, Any] | None:
        """The server's summary of the committed version of ``name`` with ``digest``; None
        while it is not committed (or not uploaded yet, or the server cannot be reached:
        ``Artifact.wait`` asks again)."""
        try:
            versions = self._remote_api().versions(name)
        except (NotOnServerError, ServerUnreachableError):
            return None
        return next((v for v in versions if v.get("digest") == digest), None)

    def _set_alias(self, name: str, version: str | None, digest: str, alias: str) -> None:
        self._record(
            [
                fmt.K_ARTIFACT,
                time.time(),
                manifest.alias_info(name=name, digest=digest, alias=alias),
            ]
        )
        if version is not None:
            try:
                self._index.set_alias(name, version, alias)
            except OSError as exc:
                warn_failure("artifact-index", f"artifact {name!r}: the local index failed ({exc})")

    def _local(self, name: str, ref: str) -> Artifact:
        return self._index.artifact(name, ref, project=self._project)

    def _remote(self, name: str, ref: str) -> Artifact | None:
        """The server's version, or None when the server cannot be reached or fails (the
        local index answers then); a version the server does not have raises ValueError."""
        try:
            return self._remote_api().version(name, ref)
        except (ServerUnreachableError, ServerError) as exc:  # down, busy, failing: ours
            warn_failure(
                "artifact-use", f"use_artifact('{name}:{ref}'): {exc}; the local index answers"
            )
            return None

    def _remote_api(self) -> Remote:
        from tether.artifacts.remote import Remote
        from tether.sync.http import HttpClient

        if self._http is None or self._http_pid != os.getpid():  # a fork child: its own
            self._http = HttpClient(self._client.base_url, self._client.api_key)
            self._http_pid = os.getpid()
        # Its aliases are records of this run (uploaded later), never a request that could
        # raise into training or wait for a server that is down.
        return Remote(
            self._http,
            self._project,
            record_alias=lambda n, digest, alias: self._set_alias(n, None, digest, alias),
        )


def default_name(path: str | os.PathLike[str]) -> str:
    """An artifact name from a path's base name (``runs/ckpt/epoch=3.ckpt`` is
    ``epoch-3.ckpt``)."""
    base = Path(os.fspath(path)).resolve().name
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", base).lstrip("._-").replace("..", ".")[:128]
    if not cleaned:
        raise ValueError(
            f"log_artifact(): no name can be made from {str(path)!r}; pass name='model'"
        )
    return cleaned


def _with_latest(aliases: list[str]) -> list[str]:
    # Locally as on the server, a new version is always the latest one.
    return aliases if manifest.LATEST in aliases else [*aliases, manifest.LATEST]


def _checked_type(value: object) -> str:
    if not isinstance(value, str) or not _TYPE.fullmatch(value):
        raise ValueError(
            f"log_artifact(): type {value!r:.80} is not accepted: use 1 to 64 letters, digits, "
            "'.', '_' or '-' such as 'model' or 'dataset'"
        )
    return value


def _checked_metadata(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise TypeError(
            f"log_artifact(): metadata must be a dict with str keys, got "
            f"{value.__class__.__name__}; pass metadata={{'val_acc': 0.91}}"
        )
    try:
        encoded = msgspec.json.encode(dict(value))
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(
            f"log_artifact(): metadata must hold numbers, strings, bools, None, lists and "
            f"dicts only ({exc}); convert other values with float() or str()"
        ) from None
    if len(encoded) > MAX_METADATA_BYTES:
        raise ValueError(
            f"log_artifact(): metadata is {len(encoded):,} bytes as JSON, over "
            f"{MAX_METADATA_BYTES:,}; keep large data in the artifact's files"
        )
    result: dict[str, Any] = msgspec.json.decode(encoded)
    _check_json(result, "metadata", 0)
    return result


def _check_json(value: Any, where: str, depth: int) -> None:
    # What the server's database keeps (server/media.py's JSON check): 64-bit integers and
    # at most MAX_DEPTH levels, so every metadata accepted here is stored there.
    if depth > MAX_DEPTH:
        raise ValueError(
            f"log_artifact(): {where} nests deeper than {MAX_DEPTH} levels; flatten it"
        )
    if isinstance(value, dict):
        for key, item in value.items():
            _check_json(item, f"{where}[{key!r}]", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json(item, f"{where}[{index}]", depth + 1)
    elif type(value) is int and not -(2**63) <= value < 2**63:
        raise ValueError(
            f"log_artifact(): {where} = {value} is outside 64-bit integers; store it as "
            "str(value) or float(value)"
        )
