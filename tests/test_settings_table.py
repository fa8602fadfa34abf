"""One table of ``TETHER_*`` variables (``tether._env_vars``): complete, documented, and the
only place that reads them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tether import _env_vars
from tether.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "tether"
TABLE_MODULE = SRC / "_env_vars.py"
DOCS = ROOT / "docs" / "settings.md"
SCOPES = ("client", "internal", "server")
VARIABLE_NAME = re.compile(r"TETHER_[A-Z0-9_]+")


def _sources() -> list[Path]:
    return [path for path in sorted(SRC.rglob("*.py")) if path != TABLE_MODULE]


def test_the_docs_page_shows_the_table() -> None:
    text = DOCS.read_text()
    for scope in SCOPES:
        assert _env_vars.markdown_table(scope) in text, (
            f"docs/settings.md is not the {scope} table of src/tether/_env_vars.py; paste "
            f"the output of: python -c 'from tether import _env_vars; "
            f'print(_env_vars.markdown_table("{scope}"))\''
        )
    documented = set(VARIABLE_NAME.findall(text))
    assert documented - {v.name for v in _env_vars.VARIABLES} <= {"TETHER_"}


def test_every_variable_named_in_the_code_is_in_the_table() -> None:
    table = {v.name for v in _env_vars.VARIABLES}
    assert len(table) == len(_env_vars.VARIABLES), "a variable is in the table twice"
    assert all(
        v.scope in SCOPES and v.form and v.default and v.meaning for v in _env_vars.VARIABLES
    )
    named = {
        (name, path.relative_to(ROOT).as_posix())
        for path in [TABLE_MODULE, *_sources()]
        for name in VARIABLE_NAME.findall(path.read_text())
        if not name.endswith("_")  # "TETHER_*", "TETHER_SERVER_*": the families, not a name
    }
    missing = sorted(f"{name} ({where})" for name, where in named if name not in table)
    assert not missing, "TETHER_* variables missing from _env_vars.py:\n" + "\n".join(missing)


def _names_a_variable(node: ast.expr | None, aliases: frozenset[str] = frozenset()) -> bool:
    """``"TETHER_X"`` spelled out, ``_env_vars.X.name`` (a name taken from the table), or a
    constant in ``aliases`` that holds such a name."""
    if isinstance(node, ast.Name) and node.id in aliases:
        return True
    if isinstance(node, ast.Attribute) and node.attr in aliases:
        return True
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and VARIABLE_NAME.fullmatch(node.value) is not None
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "name"
        and isinstance(node.value, ast.Attribute)
        and isinstance(node.value.value, ast.Name)
        and node.value.value.id == "_env_vars"
    )


def name_aliases(sources: list[str]) -> frozenset[str]:
    """Constants anywhere in ``sources`` that hold a ``TETHER_*`` name (``ENV_X = ...``)."""
    found: set[str] = set()
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Assign | ast.AnnAssign) and _names_a_variable(node.value):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                found.update(t.id for t in targets if isinstance(t, ast.Name))
    return frozenset(found)


def stray_reads(source: str, aliases: frozenset[str] = frozenset()) -> list[str]:
    """Where ``source`` reads a ``TETHER_*`` variable itself (by its name, by the table's
    ``.name``, or through a constant in ``aliases``), or keeps a name in a constant of its own
    (the way such reads used to hide: ``ENV_X = "TETHER_X"``)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Constant):
            if _names_a_variable(node.value):
                found.append(f"line {node.lineno}: a constant of its own for {node.value.value}")
        elif isinstance(node, ast.Call) and node.args and _names_a_variable(node.args[0], aliases):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("get", "getenv"):
                found.append(f"line {node.lineno}: {name}() of a TETHER_* name")
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            if _names_a_variable(node.slice, aliases):
                found.append(f"line {node.lineno}: [] read of a TETHER_* name")
        elif (
            isinstance(node, ast.Compare)
            and _names_a_variable(node.left, aliases)
            and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops)
        ):
            found.append(f"line {node.lineno}: `in` test of a TETHER_* name")
    return found


def test_the_stray_read_check_finds_reads_and_allows_writes() -> None:
    reads = """
import os
a = os.environ.get("TETHER_X")
b = os.getenv(_env_vars.MODE.name)
c = os.environ[_env_vars.MODE.name]
d = _env_vars.MODE.name in os.environ
e = "TETHER_Z" in os.environ
ENV_Y = "TETHER_Y"
"""
    assert len(stray_reads(reads)) == 6
    aliased = """
ENV_KEY = _env_vars.SERVER_ADMIN_KEY.name
ENV_HOME = "XDG_CONFIG_HOME"
key = os.environ.get(ENV_KEY)
home = os.environ.get(ENV_HOME)
"""
    aliases = name_aliases([aliased])
    assert aliases == {"ENV_KEY"}
    assert stray_reads(aliased, aliases) == ["line 4: get() of a TETHER_* name"]
    allowed = """
import os
os.environ[_env_vars.ATTACH_RUN_DIR.name] = "/runs/a"
os.environ.pop(_env_vars.ATTACH_RUN_DIR.name, None)
child = {**os.environ, _env_vars.SERVER_ADMIN_KEY.name: "key"}
value = _env_vars.get(_env_vars.MODE)
message = "set TETHER_API_KEY, or run `tether login`"
check_key_strength(key, source="TETHER_SERVER_ADMIN_KEY")
"""
    assert stray_reads(allowed) == []


def test_no_module_reads_a_tether_variable_itself() -> None:
    sources = {path: path.read_text() for path in _sources()}
    aliases = name_aliases(list(sources.values()))
    strays = [
        f"{path.relative_to(ROOT)} {where}"
        for path, source in sources.items()
        for where in stray_reads(source, aliases)
    ]
    assert not strays, (
        "read TETHER_* variables through tether._env_vars (get/seconds), and take their "
        "names from its table:\n" + "\n".join(strays)
    )


def test_a_bad_value_names_the_variable_and_the_accepted_form() -> None:
    environ = {"TETHER_FINISH_GRACE_S": "soon"}
    with pytest.raises(UsageError, match=r"TETHER_FINISH_GRACE_S='soon'.*seconds >= 0.*e\.g\. 2"):
        _env_vars.seconds(_env_vars.FINISH_GRACE_S, 2.0, environ)
    assert _env_vars.seconds(_env_vars.FINISH_GRACE_S, 2.0, {}) == 2.0
    assert _env_vars.seconds(_env_vars.FINISH_GRACE_S, 2.0, {"TETHER_FINISH_GRACE_S": "-1"}) == 0
    assert _env_vars.get(_env_vars.MODE, {"TETHER_MODE": "offline"}) == "offline"
