"""The package's import graph: no cycle, and every import points down the layers.

Built from the source, not from ``sys.modules``: imports inside functions count (a cycle
closed by a function-local import is still a cycle, one that only shows at run time).
Imports under ``if TYPE_CHECKING:`` are exempt: they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "tether"

# Top to bottom; a module may import its own layer and the layers below it, never above.
# The first matching prefix wins (so list a module before the package that holds it).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("command line", ("tether.cli", "tether.server.cli")),
    ("integrations", ("tether.integrations",)),
    ("server", ("tether.server",)),
    (
        "client API",
        (
            "tether._client",
            "tether._run",
            "tether._disabled",
            "tether._mappings",
            "tether.artifacts.run_artifacts",
        ),
    ),
    ("query client and sync", ("tether.api", "tether.sync", "tether.artifacts.remote")),
    (
        "process hooks, capture and system",
        (
            "tether.process",
            "tether.capture",
            "tether.system",
        ),
    ),
    ("settings", ("tether._settings", "tether._client_config")),
    ("artifacts", ("tether.artifacts",)),
    ("store", ("tether.store",)),
    ("media", ("tether.media",)),
    (
        "errors and values",
        (
            "tether",  # the package itself: it imports only tether.errors (the rest lazily)
            "tether.errors",
            "tether._env",
            "tether._env_vars",
            "tether._registry",
            "tether._values",
            "tether._mappings",
            "tether._names",
            "tether._tokens",
            "tether._threads",
            "tether._diagnostics",
        ),
    ),
]


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except those under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return found


def import_graph() -> dict[str, set[str]]:
    """``module -> modules of this package it imports`` (the package's own modules only)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in _imports(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    targets.append(submodule if submodule in modules else base)
            for named in targets:
                target = named
                # `import a.b.c` names the deepest module that exists.
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _one_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A closed path through ``component``, to print (found by a walk inside it)."""
    members = set(component)
    path = [component[0]]
    while True:
        step = sorted(graph[path[-1]] & members)[0]
        if step in path:
            return [*path[path.index(step) :], step]
        path.append(step)


def layer_of(module: str) -> int:
    for rank, (_, prefixes) in enumerate(LAYERS):
        # "tether" names the package's __init__ alone, not every module under it.
        if any(module == p or (p != PACKAGE and module.startswith(p + ".")) for p in prefixes):
            return rank
    raise AssertionError(f"{module} is in no layer of tests/test_layers.py; add it to LAYERS")


def test_the_import_graph_sees_function_local_imports() -> None:
    graph = import_graph()
    assert "tether.store.format" in graph["tether.store.writer"]
    # _client imports the uploader inside a function: still an edge.
    assert "tether.sync.uploader" in graph["tether._client"]


def test_no_import_cycle() -> None:
    graph = import_graph()
    cycles = [" -> ".join(_one_cycle(graph, c)) for c in _cycles(graph)]
    assert not cycles, "import cycles (function-local imports included):\n" + "\n".join(cycles)


def test_a_cycle_is_found_and_printed() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _one_cycle(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]


def test_imports_point_down_the_layers() -> None:
    upward = [
        f"{source} ({LAYERS[layer_of(source)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
        for source, targets in sorted(import_graph().items())
        for target in sorted(targets)
        if layer_of(target) < layer_of(source)
    ]
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)
