"""tether: an experiment tracker that holds every process of a training job together.

>>> import tether                                               # doctest: +SKIP
>>> with tether.init(project="mnist", config={"lr": 3e-4}) as run:   # doctest: +SKIP
...     for step in range(100):
...         run.log({"train/loss": 1 / (step + 1)})

``import tether`` imports almost nothing (the rest loads on first use); it starts no thread,
opens no file and patches nothing until ``init()``.
"""

from importlib import import_module as _import_module

from tether.errors import (
    AuthError,
    NotOnServerError,
    OffsetConflictError,
    RunNotFoundError,
    ServerError,
    ServerUnreachableError,
    TetherError,
    UsageError,
)

# Not typing.TYPE_CHECKING: importing typing alone would double the cost of `import tether`.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from tether._client import current_run, finish, flush, init, log
    from tether._diagnostics import TetherWarning
    from tether._mappings import Config, Summary
    from tether._run import Run
    from tether.api import Api
    from tether.artifacts.artifact import Artifact
    from tether.media.histogram import Histogram
    from tether.media.table import Table
    from tether.media.types import Image, Text
    from tether.store.run_data import ConsoleLine, RunData, WriterInfo, load_run

__version__ = "0.1.0"

# Imported on first use, so that `import tether` costs next to nothing (bench/RESULTS.md):
# the client loads on the first tether.init(), the query API (httpx, pandas) on tether.Api.
_LAZY = {
    "Api": "tether.api",
    "Artifact": "tether.artifacts.artifact",
    "Config": "tether._mappings",
    "ConsoleLine": "tether.store.run_data",
    "Histogram": "tether.media.histogram",
    "Image": "tether.media.types",
    "Run": "tether._run",
    "RunData": "tether.store.run_data",
    "Summary": "tether._mappings",
    "Table": "tether.media.table",
    "TetherWarning": "tether._diagnostics",
    "Text": "tether.media.types",
    "WriterInfo": "tether.store.run_data",
    "current_run": "tether._client",
    "finish": "tether._client",
    "flush": "tether._client",
    "init": "tether._client",
    "load_run": "tether.store.run_data",
    "log": "tether._client",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tether' has no attribute {name!r}")
    value = getattr(_import_module(module), name)
    globals()[name] = value  # later look-ups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY} - {"TYPE_CHECKING"})


__all__ = [
    "Api",
    "Artifact",
    "AuthError",
    "Config",
    "ConsoleLine",
    "Histogram",
    "Image",
    "NotOnServerError",
    "OffsetConflictError",
    "Run",
    "RunData",
    "RunNotFoundError",
    "ServerError",
    "ServerUnreachableError",
    "Summary",
    "Table",
    "TetherError",
    "TetherWarning",
    "Text",
    "UsageError",
    "WriterInfo",
    "__version__",
    "current_run",
    "finish",
    "flush",
    "init",
    "load_run",
    "log",
]
