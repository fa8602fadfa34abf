"""``Artifact``: one version of a logged file or directory, local or on a server.

The same class serves an artifact this run logged, one found in the local index
(``use_artifact`` offline) and one the server answered (``Api().artifact``,
``use_artifact`` online): it is built with a ``reader`` that yields a file's bytes and an
``on_alias`` that records an alias change, as ``MediaItem`` is built with a ``fetch``.

>>> art = run.log_artifact("ckpt/", name="resnet", aliases=["latest", "best"])  # doctest: +SKIP
>>> art.version, art.digest[:12], [f.path for f in art.files]                   # doctest: +SKIP
>>> art.wait().version  # online: the server's number, once it committed it      # doctest: +SKIP
>>> run.use_artifact("resnet:best").download()                                  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from tether.artifacts.manifest import ArtifactFile, check_alias
from tether.errors import UsageError

__all__ = ["Artifact", "ArtifactFile", "Reader"]

# Yields the bytes of one file of the version, in order (a chunk, or a network piece, at a time).
Reader = Callable[[ArtifactFile], Iterator[bytes]]
AliasSetter = Callable[[str], None]
# Asks the server for the committed version of this name and digest: its summary (an entry of
# `GET P/artifacts/{name}/versions`, docs/api.md), or None while it is not committed there.
CommitLookup = Callable[[], "dict[str, Any] | None"]


class Artifact:
    """One version of an artifact.

    ``version`` is ``"vN"``; ``committed`` is True when it comes from the server (which owns
    the numbers), False for a version known only to this machine's index (the server may
    number it differently once other machines logged versions meanwhile). ``wait()`` turns
    a version an online run logged into the server's: its number, aliases and producer.
    """

    def __init__(
        self,
        *,
        name: str,
        version: str | None,
        type: str,
        digest: str,
        files: Sequence[ArtifactFile],
        metadata: dict[str, Any] | None = None,
        aliases: Sequence[str] = (),
        committed: bool = False,
        owner: str | None = None,
        project: str,
        reader: Reader,
        on_alias: AliasSetter | None = None,
        producer: dict[str, Any] | None = None,
        lookup: CommitLookup | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.type = type
        self.digest = digest
        self.files = list(files)
        self.metadata = dict(metadata or {})
        self.aliases = list(aliases)
        self.committed = committed
        self.owner = owner
        self.project = project
        self.producer = producer
        self._reader = reader
        self._on_alias = on_alias
        self._lookup = lookup

    @property
    def size(self) -> int:
        """The bytes of all its files."""
        return sum(f.size for f in self.files)

    def read(self, path: str) -> Iterator[bytes]:
        """The bytes of one of its files (by its path in the artifact), piece by piece."""
        for file in self.files:
            if file.path == path:
                return self._reader(file)
        shown = ", ".join(f.path for f in self.files[:5])
        raise FileNotFoundError(
            f"artifact {self.name}:{self.version} has no file {path!r}; its files: {shown}"
            + (" …" if len(self.files) > 5 else "")
        )

    def download(self, root: str | Path | None = None) -> Path:
        """The version's files in a folder, every file's sha256 checked; returns the folder.

        ``root`` defaults to ``~/.cache/tether/artifacts/<owner>/<project>/<name>/<digest>/``
        (``$XDG_CACHE_HOME`` instead of ``~/.cache`` when set). A file already there and
        unchanged since it was checked is not fetched again, so a second download is
        instant; a file that changed (a corrupted cache) is fetched again.
        """
        from tether.artifacts import cache

        target = Path(root) if root is not None else cache.default_root(self)
        return cache.download(self.files, self._reader, target, digest=self.digest)

    def wait(self, timeout: float = 60.0) -> Artifact:
        """Wait until the server has committed this version, then take its number, aliases
        and producer (``committed`` becomes True); returns the artifact.

        For a version an online run logged: the run's uploader sends it in the background,
        and the server numbers it when the last chunk arrives; ``version`` may then change
        (the local ``v2`` may be the server's ``v5``; the digest stays). Polls the server,
        ``TimeoutError`` after ``timeout`` seconds. A version the server answered is
        committed already, and one whose files could not be stored (``version`` None, a
        warning said so) returns at once, unchanged. An offline run's version raises
        ``UsageError``: ``tether sync`` sends it, then ``tether.Api().artifact(...)`` reads
        the server's number.

        >>> art = run.log_artifact("ckpt/", name="resnet").wait()  # doctest: +SKIP
        >>> art.version, art.committed                             # doctest: +SKIP
        ('v5', True)
        """
        if self.committed or self.version is None:
            return self
        if self._lookup is None:
            raise UsageError(
                f"artifact {self.name}:{self.version} is known only to this machine's index "
                "(an offline run): no server commits it until `tether sync` sends the run; "
                "then read its number with "
                f"tether.Api().artifact('{self.project}/{self.name}:latest')"
            )
        deadline = time.monotonic() + timeout
        pause = 0.05
        while True:
            found = self._lookup()
            if found is not None:
                self._take(found)
                return self
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"artifact {self.name}:{self.version} (digest {self.digest[:12]}) is not "
                    f"committed on the server after {timeout:g} s: its upload is still under "
                    "way, or the server cannot be reached; wait() again, or give a longer "
                    "timeout"
                )
            time.sleep(min(pause, left))
            pause = min(pause * 2, 1.0)

    def _take(self, found: dict[str, Any]) -> None:
        """The server's view of this version, which now owns it."""
        self.version = str(found["version"])
        self.aliases = list(found.get("aliases") or [])
        self.metadata = dict(found.get("metadata") or {})  # the first logger's, if several
        self.producer = found.get("run")
        self.committed = True

    def set_alias(self, alias: str) -> None:
        """Point ``alias`` (``best``, ``prod``) at this version; ``latest`` is moved by the
        server to the newest version by itself."""
        alias = check_alias(alias)
        if self._on_alias is None:
            raise ValueError(
                f"artifact {self.name}:{self.version} cannot take aliases here; set them from "
                "the run that logged it, or through tether.Api().artifact(...)"
            )
        self._on_alias(alias)
        if alias not in self.aliases:
            self.aliases.append(alias)

    def __repr__(self) -> str:
        where = "" if self.committed else " (local)"
        return (
            f"<tether.Artifact {self.name}:{self.version}{where} {self.type} "
            f"{len(self.files)} files {self.size:,} bytes digest={self.digest[:12]}>"
        )
