"""tether: an experiment tracker that holds every process of a training job together.

>>> import tether                                               # doctest: +SKIP
>>> with tether.init(project="mnist", config={"lr": 3e-4}) as run:   # doctest: +SKIP
...     for step in range(100):
...         run.log({"train/loss": 1 / (step + 1)})

``import tether`` imports only the standard library and msgspec; it starts no thread, opens no
file and patches nothing until ``init()``.
"""

from tether._api import current_run, finish, flush, init, log
from tether._diagnostics import TetherWarning
from tether._mappings import Config, Summary
from tether._run import Run
from tether.errors import RunNotFoundError, StoreError, TetherError, UsageError
from tether.store.run_data import ConsoleLine, RunData, WriterInfo, load_run

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # tether.Api needs httpx and pandas: imported on first use, never by `import tether`.
    if name == "Api":
        from tether.api import Api

        return Api
    raise AttributeError(f"module 'tether' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "Api"})


__all__ = [
    "Api",
    "Config",
    "ConsoleLine",
    "Run",
    "RunData",
    "RunNotFoundError",
    "StoreError",
    "Summary",
    "TetherError",
    "TetherWarning",
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
