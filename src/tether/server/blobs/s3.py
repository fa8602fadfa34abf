"""Blobs in an S3-compatible object store (AWS S3, MinIO, SeaweedFS...), through obstore.

``--blob-url s3://bucket/prefix`` (or ``TETHER_SERVER_BLOB_URL``); the endpoint and the
credentials come from the usual variables: ``AWS_ENDPOINT_URL`` (absent: AWS itself),
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION`` or
``AWS_DEFAULT_REGION``. Plain ``http://`` is allowed for a loopback endpoint only (a store on
the same machine); anywhere else it must be https.

A blob is the object ``<prefix>/ab/<sha256>``. The bytes are hashed as they arrive into a
local temporary file, and only bytes that hash right are put (in parts, past 5 MiB): a
blob's object exists only whole and right. obstore is imported when a store is made, so a
server without the ``s3`` extra runs on its local store.

A direct upload (a presigned PUT, ``tether.server.direct_blobs``) lands at a staging object
``<prefix>/staging/<id>``, never at a blob's own key. Confirmed, it is copied to
``<prefix>/staging/<id>.check`` (no URL names it: the PUT URL can no longer change those
bytes), hashed there, and copied to the blob's key unless the store holds it already.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from tether.server.blobs.store import (
    READ_CHUNK,
    BlobStore,
    BlobStoreError,
    HashingChunks,
    digest_of,
    is_sha256,
    is_staging_id,
)

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class S3BlobStore(BlobStore):
    """Blobs as objects of one bucket, under one prefix."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        region: str | None = None,
    ) -> None:
        try:
            from obstore.store import S3Store
        except ImportError as exc:
            raise ValueError("an s3:// blob store needs obstore: pip install 'tether[s3]'") from exc
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        allow_http = False
        config: dict[str, Any] = {"region": region or "us-east-1"}
        if endpoint:
            parts = urlsplit(endpoint)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(
                    f"AWS_ENDPOINT_URL={endpoint!r}: must be an http(s) URL, "
                    "e.g. https://s3.example.org"
                )
            if parts.scheme == "http":
                if parts.hostname not in LOOPBACK_HOSTS:
                    raise ValueError(
                        f"AWS_ENDPOINT_URL={endpoint!r}: plain http is allowed for a store on "
                        "this machine only (127.0.0.1, localhost, ::1); use https"
                    )
                allow_http = True
            config["endpoint"] = endpoint
        if access_key_id:
            config["access_key_id"] = access_key_id
        if secret_access_key:
            config["secret_access_key"] = secret_access_key
        if session_token:
            config["session_token"] = session_token
        self._store = S3Store(
            bucket,
            client_options={"allow_http": allow_http, "timeout": "60s", "connect_timeout": "5s"},
            # A store that is down answers 503 within seconds (the client retries), not 3 min.
            retry_config={"max_retries": 2, "retry_timeout": timedelta(seconds=10)},
            **config,
        )

    @classmethod
    def from_url(cls, url: str, environ: Mapping[str, str] | None = None) -> S3BlobStore:
        """The store of ``s3://bucket/prefix``, configured from the ``AWS_*`` variables."""
        env = os.environ if environ is None else environ
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"blob URL {url!r}: must be s3://bucket/prefix")
        return cls(
            parts.netloc,
            parts.path,
            endpoint=env.get("AWS_ENDPOINT_URL") or None,
            access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
            session_token=env.get("AWS_SESSION_TOKEN") or None,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
        )

    def key(self, sha256: str) -> str:
        if not is_sha256(sha256):
            raise ValueError(f"{sha256!r} is not a sha256 (64 lowercase hex digits)")
        name = f"{sha256[:2]}/{sha256}"
        return f"{self.prefix}/{name}" if self.prefix else name

    def put_stream(self, sha256: str, chunks: Iterable[bytes], *, limit: int | None = None) -> int:
        import obstore

        key = self.key(sha256)
        hashing = HashingChunks(chunks, limit=limit)
        with tempfile.TemporaryFile(prefix="tether-blob-") as spool:
            for chunk in hashing:
                spool.write(chunk)
            hashing.check(sha256)
            spool.seek(0)
            with _store_errors(key):
                obstore.put(self._store, key, spool)
        return hashing.size

    def exists(self, sha256: str) -> bool:
        import obstore

        key = self.key(sha256)
        try:
            with _store_errors(key):
                obstore.head(self._store, key)
        except FileNotFoundError:
            return False
        return True

    def open(self, sha256: str) -> Iterator[bytes]:
        import obstore

        key = self.key(sha256)
        with _store_errors(key):  # FileNotFoundError when absent
            result = obstore.get(self._store, key)
        return (bytes(chunk) for chunk in result.stream(min_chunk_size=READ_CHUNK))

    def presign(self, sha256: str, method: str, *, expires_s: int = 3600) -> str | None:
        """A presigned URL (obstore's ``sign``: SigV4 query parameters). A PUT through it
        is not checked by the store against the hash: the server reads the object back
        before it links it (``tether.server.artifact_blobs``)."""
        import obstore

        verb: Literal["GET", "PUT"]
        if method == "GET":
            verb = "GET"
        elif method == "PUT":
            verb = "PUT"
        else:
            raise ValueError(f"method {method!r}: presigned URLs are for GET or PUT")
        key = self.key(sha256)
        with _store_errors(key):
            return str(obstore.sign(self._store, verb, key, timedelta(seconds=expires_s)))

    def staging_key(self, staging: str) -> str:
        if not is_staging_id(staging):
            raise ValueError(f"{staging!r} is not a staging id (32 lowercase hex digits)")
        name = f"staging/{staging}"
        return f"{self.prefix}/{name}" if self.prefix else name

    def presign_staged_put(self, staging: str, *, expires_s: int = 3600) -> str | None:
        import obstore

        key = self.staging_key(staging)
        with _store_errors(key):
            return str(obstore.sign(self._store, "PUT", key, timedelta(seconds=expires_s)))

    def take_staged(self, staging: str, sha256: str, *, limit: int | None = None) -> int:
        import obstore

        staged, final = self.staging_key(staging), self.key(sha256)
        checked = f"{staged}.check"
        with _store_errors(staged):  # FileNotFoundError when nothing was put
            obstore.copy(self._store, staged, checked)
        self._delete_key(staged)
        try:
            with _store_errors(checked):
                result = obstore.get(self._store, checked)
            chunks = (bytes(chunk) for chunk in result.stream(min_chunk_size=READ_CHUNK))
            size = digest_of(chunks, sha256, limit=limit)
            if not self.exists(sha256):
                with _store_errors(final):
                    obstore.copy(self._store, checked, final)
        finally:
            self._delete_key(checked)
        return size

    def delete_staged(self, *, older_than: float) -> int:
        import obstore

        prefix = f"{self.prefix}/staging/" if self.prefix else "staging/"
        old: list[str] = []
        with _store_errors(prefix):
            for batch in obstore.list(self._store, prefix=prefix):
                old.extend(
                    meta["path"] for meta in batch if meta["last_modified"].timestamp() < older_than
                )
        for key in old:
            self._delete_key(key)
        return len(old)

    def _delete_key(self, key: str) -> None:
        import obstore

        try:
            with _store_errors(key):
                obstore.delete(self._store, key)
        except FileNotFoundError:
            pass

    def delete(self, sha256: str) -> None:
        import obstore

        key = self.key(sha256)
        try:
            with _store_errors(key):
                obstore.delete(self._store, key)
        except FileNotFoundError:
            pass


@contextmanager
def _store_errors(key: str) -> Iterator[None]:
    """obstore's errors as the ``OSError``s the routes answer 503 for (absent: 404)."""
    from obstore.exceptions import BaseError, NotFoundError

    try:
        yield
    except FileNotFoundError:
        raise
    except NotFoundError as exc:
        raise FileNotFoundError(f"no object {key}") from exc
    except BaseError as exc:
        raise BlobStoreError(f"the S3 store refused or failed on {key}: {exc}") from exc
