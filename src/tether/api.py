"""Query a tether server from Python: projects, runs, and their history as pandas.

>>> api = tether.Api()  # the server and key of `tether login`             # doctest: +SKIP
>>> runs = api.runs("mnist", filters={"state": "finished"}, order="-summary.acc")  # doctest: +SKIP
>>> runs.to_pandas()[["id", "name", "summary.acc"]]                        # doctest: +SKIP
>>> run = api.run("mnist/k3x9a1bq")                                         # doctest: +SKIP
>>> run.history(keys=["loss"], samples=1000)  # _step, _time, _writer, loss  # doctest: +SKIP
>>> run.system(["gpu.0.util_percent"], samples=500)  # _time, _writer, gpu.0...  # doctest: +SKIP
>>> run.environment["git"]["commit"]                                         # doctest: +SKIP

``import tether`` does not import this module, and this module imports neither httpx nor
pandas until they are needed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from tether._client_config import configured_base_url, load_client_config, normalize_base_url
from tether.errors import RunNotFoundError, UsageError
from tether.store.run_data import ConsoleLine, console_frame

if TYPE_CHECKING:
    import pandas

    from tether.artifacts.artifact import Artifact
    from tether.media.items import MediaItem
    from tether.sync.http import HttpClient

__all__ = ["Api", "Project", "RemoteRun", "RunList"]

FILTERS: Final = ("state", "group", "tag", "search")
PAGE_SIZE: Final = 200
CONSOLE_PAGE: Final = 5000
MEDIA_PAGE: Final = 10_000
_NON_FINITE: Final = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


@dataclass(frozen=True)
class Project:
    name: str
    runs: int
    updated_at: float | None


class Api:
    """A client for one server and key; defaults to ``tether login``'s (or the environment's).

    Raises ``UsageError`` when no key is configured.
    """

    def __init__(
        self, base_url: str | None = None, api_key: str | None = None, *, timeout: float = 60.0
    ) -> None:
        if api_key is None:
            config = load_client_config()
            if config is None:
                raise UsageError(
                    "tether.Api(): no API key: run `tether login`, set TETHER_API_KEY, "
                    "or pass Api(api_key=...)"
                )
            api_key = config.api_key
        self.base_url = normalize_base_url(base_url) if base_url else configured_base_url()
        self._api_key = api_key
        self._timeout = timeout
        self._client: HttpClient | None = None

    @property
    def client(self) -> HttpClient:
        if self._client is None:
            from tether.sync.http import HttpClient

            self._client = HttpClient(self.base_url, self._api_key, timeout=self._timeout)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<tether.Api {self.base_url}>"

    def viewer(self) -> dict[str, Any]:
        """Who the key belongs to: ``{"user": ..., "admin": ...}``."""
        answer: dict[str, Any] = self.client.get_json("/viewer")
        return answer

    def owners(self) -> list[dict[str, Any]]:
        """The namespaces this key can read: ``[{"name", "kind": "user"|"team", "role",
        "default"}]``, its own first, then its teams."""
        answer: list[dict[str, Any]] = self.client.get_json("/owners")
        return answer

    def projects(self, owner: str | None = None) -> list[Project]:
        """The projects of namespace ``owner`` (a user or team, see ``owners()``), by name;
        the key's default namespace when None."""
        from tether.sync.http import quote_part

        if owner is not None and (not isinstance(owner, str) or not owner or "/" in owner):
            raise UsageError(
                f"Api.projects(owner={owner!r}): give a user or team name such as 'lab' "
                "(Api().owners() lists them), or None for the key's default namespace"
            )
        path = "/projects" if owner is None else f"/owners/{quote_part(owner)}/projects"
        return [
            Project(name=p["name"], runs=int(p.get("runs", 0)), updated_at=p.get("updated_at"))
            for p in self.client.get_json(path)
        ]

    def runs(
        self,
        project: str,
        filters: dict[str, str] | None = None,
        order: str | None = None,
        *,
        filter: str | None = None,
    ) -> RunList:
        """The runs of ``project`` (``"team/project"``: in namespace ``team``), fetched page
        by page as they are iterated.

        ``filter``: an expression evaluated by the server (``docs/workspace.md``), e.g.
        ``'config.lr < 0.05 and summary.best_acc > 0.9 and state = finished'``; a malformed
        one raises ``ValueError`` at once, with a caret under where it stops making sense.
        ``filters``: any of ``state``, ``group``, ``tag``, ``search`` (a part of the name).
        ``order``: ``start_time``, ``name``, ``state``, ``duration``, ``last_step``,
        ``summary.<key>`` or ``config.<key>``; ``-`` in front for descending.
        """
        params: dict[str, Any] = {}
        for key, value in (filters or {}).items():
            if key not in FILTERS:
                raise UsageError(
                    f"Api.runs(): unknown filter {key!r}; use any of {', '.join(FILTERS)}"
                )
            params[key] = value
        if order is not None:
            params["order"] = order
        if filter is None:
            return RunList(self, project, params)
        if not isinstance(filter, str):
            raise TypeError(
                f"Api.runs(filter={filter!r}): give the filter as a string, e.g. "
                "filter='config.lr < 0.05 and state = finished'"
            )
        listed = RunList(self, project, {**params, "filter": filter})
        listed.check_filter()  # the first page now, so a malformed filter raises here
        return listed

    def run(self, path: str) -> RemoteRun:
        """One run, by ``"project/run_id"`` (the key's default namespace) or
        ``"owner/project/run_id"`` (a team's, or another user's it may read)."""
        project, sep, run_id = path.rpartition("/")
        if not sep or not project or not run_id:
            raise UsageError(
                f"Api.run({path!r}): give 'project/run_id', e.g. 'mnist/k3x9a1bq' "
                "(`tether ls` shows local ids)"
            )
        return RemoteRun(self, self._get_run(project, run_id), owner=_owner_of(project))

    def artifact(self, path: str) -> Artifact:
        """One artifact version by ``"project/name:ref"`` or ``"owner/project/name:ref"``
        (``ref``: ``vN`` or an alias, ``latest`` when left out); ``.download()`` it.

        >>> tether.Api().artifact("mnist/resnet:best").download()   # doctest: +SKIP
        """
        from tether.artifacts.remote import Remote, split_path

        project, name, ref = split_path(path)
        return Remote(self.client, project).version(name, ref)

    def artifacts(self, project: str, type: str | None = None) -> list[dict[str, Any]]:
        """The artifacts of ``project`` (``"owner/project"`` for another namespace), of one
        ``type`` when given: ``[{"name", "type", "versions", "latest", "aliases",
        "updated"}]``."""
        from tether.artifacts.remote import Remote

        return Remote(self.client, project).names(type=type)

    def _get_run(self, project: str, run_id: str) -> dict[str, Any]:
        from tether.sync.http import NotOnServerError, project_path, quote_part

        try:
            data: dict[str, Any] = self.client.get_json(
                f"{project_path(project)}/runs/{quote_part(run_id)}"
            )
        except NotOnServerError as exc:
            raise RunNotFoundError(
                f"no run {run_id!r} in project {project!r} on {self.base_url}; check the id "
                "with Api().runs(project), or upload a local run with `tether sync`"
            ) from exc
        return data


class RunList:
    """The runs of a project: iterate, ``len()``, index, or ``to_pandas()``."""

    def __init__(self, api: Api, project: str, params: dict[str, Any]) -> None:
        self._api = api
        self.project = project
        self._params = params
        self._runs: list[RemoteRun] = []
        self._total: int | None = None

    def _fetch_next(self) -> bool:
        from tether.sync.http import NotOnServerError, project_path

        if self._total is not None and len(self._runs) >= self._total:
            return False
        params = {**self._params, "limit": PAGE_SIZE, "offset": len(self._runs)}
        try:
            page = self._api.client.get_json(f"{project_path(self.project)}/runs", params)
        except NotOnServerError as exc:
            raise RunNotFoundError(
                f"no project {self.project!r} on {self._api.base_url}; Api().projects() lists "
                "yours (a project appears with its first upload)"
            ) from exc
        self._total = int(page.get("total", 0))
        owner = _owner_of(self.project)
        batch = [RemoteRun(self._api, item, owner=owner) for item in page.get("runs", [])]
        self._runs.extend(batch)
        if not batch:
            self._total = len(self._runs)  # the list shrank while we paged
        return bool(batch)

    def check_filter(self) -> None:
        """Fetch the first page; a filter the server calls malformed raises ``ValueError``
        (its message, the filter, and a caret under the position)."""
        from tether.sync.http import ServerError

        try:
            self._fetch_next()
        except ServerError as exc:
            detail = exc.detail
            if exc.status != 422 or not isinstance(detail, dict) or "position" not in detail:
                raise
            text = str(self._params.get("filter", ""))
            position = int(detail.get("position") or 0)
            raise ValueError(
                f"Api.runs(filter=...): {detail.get('message')}\n  {text}\n  "
                f"{' ' * position}^\n(the grammar: docs/workspace.md)"
            ) from exc

    def __iter__(self) -> Iterator[RemoteRun]:
        index = 0
        while True:
            while index < len(self._runs):
                yield self._runs[index]
                index += 1
            if not self._fetch_next():
                return

    def __len__(self) -> int:
        if self._total is None:
            self._fetch_next()
        return self._total or 0

    def __getitem__(self, index: int) -> RemoteRun:
        return list(self)[index]

    def to_pandas(self) -> pandas.DataFrame:
        """One row per run: its fields, then ``config.<key>`` and ``summary.<key>`` columns."""
        pd = _pandas("RunList.to_pandas()")
        records = []
        for run in self:
            record = {
                field: run.data.get(field)
                for field in ("id", "name", "state", "user", "group", "job_type", "tags")
            }
            for field in ("start_time", "end_time", "duration", "last_step", "host", "writers"):
                record[field] = run.data.get(field)
            record.update({f"config.{k}": v for k, v in run.config.items()})
            record.update({f"summary.{k}": v for k, v in run.summary.items()})
            records.append(record)
        return pd.DataFrame.from_records(records)


class RemoteRun:
    """A run as the server has it; ``data`` holds every field of the API's ``Run``."""

    def __init__(self, api: Api, data: dict[str, Any], *, owner: str | None = None) -> None:
        self._api = api
        self.data = data
        self._owner = owner  # named by the caller ("team/project"); None: the key's default
        self._environment: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def name(self) -> str:
        return str(self.data.get("name") or self.data["id"])

    @property
    def project(self) -> str:
        name = str(self.data.get("project", ""))
        return f"{self._owner}/{name}" if self._owner else name

    @property
    def state(self) -> str:
        """``running``, ``finished``, ``failed``, ``killed`` or ``crashed``."""
        return str(self.data.get("state", ""))

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.data.get("config") or {})

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self.data.get("summary") or {})

    @property
    def path(self) -> str:
        return f"{self.project}/{self.id}"

    def __repr__(self) -> str:
        return f"<RemoteRun {self.path} {self.name!r} {self.state}>"

    def refresh(self) -> RemoteRun:
        """Fetch the run again (its state and summary change while it runs)."""
        self.data = self._api._get_run(self.project, self.id)
        self._environment = None
        return self

    def _url(self, part: str) -> str:
        from tether.sync.http import project_path, quote_part

        return f"{project_path(self.project)}/runs/{quote_part(self.id)}/{part}"

    def history(
        self,
        keys: Sequence[str] | None = None,
        *,
        samples: int | None = None,
        writer: str | None = None,
    ) -> pandas.DataFrame:
        """Logged rows as a DataFrame: ``_step``, ``_time``, ``_writer`` and one column a key.

        ``samples`` asks the server for about that many points per series (each bucket's
        minimum and maximum kept); without it every point comes back. ``writer`` keeps one
        process's rows (``main``, ``rank1``...).
        """
        pd = _pandas("RemoteRun.history()")
        if isinstance(keys, str):
            raise UsageError(f"history(keys={keys!r}): pass a list of keys, e.g. [{keys!r}]")
        params: dict[str, Any] = {}
        if keys:
            params["keys"] = ",".join(keys)
        if samples is not None:
            params["samples"] = samples
        if writer is not None:
            params["writer"] = writer
        answer = self._api.client.get_json(self._url("history"), params)
        return _history_frame(pd, answer.get("series", []), keys)

    def rows(
        self, keys: Sequence[str] | None = None, *, writer: str | None = None
    ) -> list[dict[str, Any]]:
        """Every row as it was logged: ``_step``, ``_time``, ``_writer`` and the keys that row
        logged, in time order (as ``RunData.rows()``)."""
        if isinstance(keys, str):
            raise UsageError(f"rows(keys={keys!r}): pass a list of keys, e.g. [{keys!r}]")
        params: dict[str, Any] = {"keys": ",".join(keys)} if keys else {}
        if writer is not None:
            params["writer"] = writer
        answer = self._api.client.get_json(self._url("history"), params)
        rows: dict[tuple[str, int, float], dict[str, Any]] = {}
        for series in answer.get("series", []):
            key, label = series["key"], series["writer"]
            values = _numbers_back(series["values"])
            for step, when, value in zip(series["steps"], series["times"], values, strict=False):
                row = rows.setdefault(
                    (label, step, when), {"_step": step, "_time": when, "_writer": label}
                )
                row[key] = value
        return sorted(rows.values(), key=lambda r: (r["_time"], r["_step"]))

    def iter_rows(
        self, keys: Sequence[str] | None = None, *, writer: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """``rows()`` one at a time (fetched whole first: the server sends series)."""
        return iter(self.rows(keys, writer=writer))

    @property
    def keys(self) -> list[str]:
        """Every history key of the run, as the server lists it."""
        return list(self.data.get("keys") or [])

    def system(
        self,
        metrics: str | Sequence[str] | None = None,
        *,
        writer: str | None = None,
        samples: int | None = None,
    ) -> pandas.DataFrame:
        """System metrics as a DataFrame: ``_time``, ``_writer``, then one column a metric
        (``host.cpu_percent``, ``proc.rss_bytes``, ``gpu.0.util_percent``...), a row per sample.

        ``metrics`` picks some, as a name or a list (all by default, sorted by name, as
        ``RunData.system()`` has them); ``writer`` keeps one sampling process's (one per host:
        ``main``, or a node's first rank); ``samples`` asks the server for about that many
        points per metric, each bucket's minimum and maximum kept. A metric missing from a
        sample is NaN.
        """
        pd = _pandas("RemoteRun.system()")
        if isinstance(metrics, str):
            metrics = [metrics]
        params: dict[str, Any] = {}
        if metrics is not None:
            params["metrics"] = ",".join(metrics)
        if samples is not None:
            params["samples"] = samples
        if writer is not None:
            params["writer"] = writer
        answer = self._api.client.get_json(self._url("system"), params)
        rows: dict[tuple[str, float], dict[str, Any]] = {}
        columns: dict[str, None] = dict.fromkeys(metrics or ())
        for series in answer.get("series", []):
            metric, label = series["metric"], series["writer"]
            columns[metric] = None
            values = _numbers_back(series["values"])
            for when, value in zip(series["times"], values, strict=False):
                row = rows.setdefault((label, when), {"_time": when, "_writer": label})
                row[metric] = value
        ordered = sorted(rows.values(), key=lambda r: (r["_time"], r["_writer"]))
        names = list(columns) if metrics is not None else sorted(columns)
        return pd.DataFrame.from_records(ordered, columns=["_time", "_writer", *names])

    @property
    def environment(self) -> dict[str, Any]:
        """What the run ran on and with, by section (``python``, ``platform``, ``cpu``,
        ``memory``, ``gpu``, ``torch``, ``packages``, ``command``, ``launcher``, ``git``);
        empty when the run recorded none. Fetched once; ``refresh()`` fetches it again."""
        if self._environment is None:
            answer = self._api.client.get_json(self._url("environment"))
            self._environment = dict(answer.get("environment") or {})
        return dict(self._environment)

    def media(self, key: str, *, step: int | None = None) -> list[MediaItem]:
        """The images, histograms, tables and texts logged under ``key`` (at ``step``, when
        given), ordered by step, writer and index; each a ``MediaItem`` whose bytes are
        fetched from the server when read. The same method as ``RunData.media``.

        >>> api.run("mnist/k3x9a1bq").media("samples", step=100)[0].to_pil()  # doctest: +SKIP
        """
        from tether.media.items import MediaItem

        if not isinstance(key, str):
            raise UsageError(f"media(key={key!r}): pass one key as a str")
        if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
            raise UsageError(f"media(step={step!r}): pass an int step, or None for all steps")
        params: dict[str, Any] = {"key": key, "limit": MEDIA_PAGE}
        if step is not None:
            params["step"] = step
        items: list[MediaItem] = []
        while True:
            page = self._api.client.get_json(self._url("media"), {**params, "offset": len(items)})
            items.extend(MediaItem.from_dict(entry, fetch=self._blob) for entry in page)
            if len(page) < MEDIA_PAGE:
                return items

    def media_keys(self) -> list[dict[str, Any]]:
        """One ``{"key", "kind", "count", "min_step", "max_step"}`` per media key, by key."""
        answer: list[dict[str, Any]] = self._api.client.get_json(self._url("media/keys"))
        return answer

    def _blob(self, sha256: str) -> bytes:
        return self._api.client.get_bytes(self._url(f"blobs/{sha256}"))

    def console(self, *, writer: str | None = None, stream: str | None = None) -> pandas.DataFrame:
        """Console lines as a DataFrame: ``_time``, ``_writer``, ``stream``, ``text``, in order
        (as ``RunData.console()``); ``writer`` and ``stream`` keep one writer's or stream's."""
        pd = _pandas("RemoteRun.console()")
        return console_frame(pd, self.console_lines(writer=writer, stream=stream))

    def console_lines(
        self, *, writer: str | None = None, stream: str | None = None
    ) -> list[ConsoleLine]:
        """Every console line (optionally of one writer or stream), in order."""
        lines: list[ConsoleLine] = []
        after = 0
        while True:
            params: dict[str, Any] = {"after": after, "limit": CONSOLE_PAGE}
            if writer is not None:
                params["writer"] = writer
            if stream is not None:
                params["stream"] = stream
            page = self._api.client.get_json(self._url("console"), params)
            batch = page.get("lines", [])
            lines.extend(
                ConsoleLine(writer=x["writer"], stream=x["stream"], text=x["text"], time=x["time"])
                for x in batch
            )
            if len(batch) < CONSOLE_PAGE or page.get("next", after) == after:
                return lines
            after = int(page["next"])


def _history_frame(
    pd: Any, series_list: list[dict[str, Any]], keys: Sequence[str] | None
) -> pandas.DataFrame:
    """The server's series as the DataFrame ``RunData.history()`` gives (tether.store.columns):
    one row per (writer, step, time), ordered by time, then step, then writer; found with
    numpy (a sort of every point), not a dict entry per point."""
    import numpy as np

    from tether.store.columns import ColumnBuilder, history_frame

    labels = sorted({series["writer"] for series in series_list})
    code_of = {label: code for code, label in enumerate(labels)}
    sizes = [min(len(series["steps"]), len(series["times"])) for series in series_list]
    parts = list(zip(series_list, sizes, strict=True))
    writers = np.concatenate(
        [np.full(n, code_of[series["writer"]], np.int32) for series, n in parts]
        or [np.empty(0, np.int32)]
    )
    steps = np.concatenate(
        [np.asarray(series["steps"][:n], np.int64) for series, n in parts]
        or [np.empty(0, np.int64)]
    )
    times = np.concatenate(
        [np.asarray(series["times"][:n], np.float64) for series, n in parts]
        or [np.empty(0, np.float64)]
    )
    order = np.lexsort((writers, steps, times))
    by_row = (times[order], steps[order], writers[order])
    starts = np.ones(len(order), dtype=np.bool_)  # where a new (time, step, writer) begins
    if len(order) > 1:
        starts[1:] = np.logical_or.reduce([column[1:] != column[:-1] for column in by_row])
    row_of = np.empty(len(order), dtype=np.int64)
    row_of[order] = np.cumsum(starts) - 1
    first = order[starts]
    count = len(first)
    builders: dict[str, ColumnBuilder] = {key: ColumnBuilder(count) for key in keys or ()}
    at = 0
    for series, n in parts:
        builder = builders.setdefault(series["key"], ColumnBuilder(count))
        builder.put_values(row_of[at : at + n], _numbers_back(series["values"])[:n])
        at += n
    return history_frame(
        steps[first],
        times[first],
        writers[first],
        labels,
        {key: builder.build() for key, builder in builders.items()},
    )


def _numbers_back(values: list[Any]) -> list[Any]:
    """The server writes NaN and infinities as strings; a numeric series gets them back."""
    if not any(isinstance(v, str) for v in values):
        return values
    if all(v is None or isinstance(v, int | float) or v in _NON_FINITE for v in values):
        return [_NON_FINITE[v] if isinstance(v, str) else v for v in values]
    return values


def _pandas(where: str) -> Any:
    try:
        import pandas
    except ImportError:
        raise ImportError(f"{where} needs pandas: pip install 'tether[pandas]'") from None
    return pandas


def _owner_of(project: str) -> str | None:
    """``team`` of ``"team/project"``; None for a bare project (the key's default owner)."""
    owner, sep, _ = project.rpartition("/")
    return owner if sep else None
