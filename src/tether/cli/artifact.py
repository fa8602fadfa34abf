"""``tether artifact ls|get|put``: artifacts of a project, on the server or on this disk.

With a key (``tether login``, ``TETHER_API_KEY``) ``ls`` and ``get`` ask the server; without
one, or with ``--local``, they read the local index of the runs under ``--dir`` (the versions
this machine logged, numbered locally). ``put`` logs a path as an artifact from a run of its
own (online when a key is configured, else offline: ``tether sync`` sends it later).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from tether._client_config import load_client_config
from tether.cli.output import console, dump_json, fmt_time
from tether.errors import TetherError

_DIR_HELP = "Folder holding ./tether (the local runs); default: the current directory."


@click.group("artifact")
def artifact_group() -> None:
    """Versioned files and folders that runs log (checkpoints, datasets)."""


@artifact_group.command("ls")
@click.argument("project")
@click.option("--type", "kind", help="Only artifacts of this type (model, dataset, ...).")
@click.option("--local", is_flag=True, help="Read this machine's index, not the server.")
@click.option("--dir", "directory", type=click.Path(path_type=Path), help=_DIR_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def ls_command(
    project: str, kind: str | None, local: bool, directory: Path | None, as_json: bool
) -> None:
    """List PROJECT's artifacts ('owner/project' for a team's): name, type, versions."""
    try:
        if local or load_client_config() is None:
            rows = _local_list(project, kind, directory or Path.cwd())
        else:
            from tether.api import Api

            with Api() as api:
                rows = api.artifacts(project, type=kind)
    except (TetherError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        dump_json(rows)
        return
    if not rows:
        console().print(f"No artifacts in {project}.")
        return
    table = Table(box=None, header_style="bold")
    for column in ("name", "type", "versions", "latest", "aliases", "updated"):
        table.add_column(column)
    for row in rows:
        aliases = ", ".join(f"{a}={v}" for a, v in sorted((row.get("aliases") or {}).items()))
        table.add_row(
            str(row["name"]),
            str(row.get("type", "")),
            str(row.get("versions", "")),
            str(row.get("latest") or "-"),
            aliases or "-",
            fmt_time(row.get("updated")),
        )
    console().print(table)


@artifact_group.command("get")
@click.argument("ref", metavar="[PROJECT/]NAME:VERSION")
@click.argument("target", metavar="[DIR]", required=False, type=click.Path(path_type=Path))
@click.option("--project", "-p", help="The project, when NAME does not start with it.")
@click.option("--local", is_flag=True, help="Read this machine's index, not the server.")
@click.option("--dir", "directory", type=click.Path(path_type=Path), help=_DIR_HELP)
def get_command(
    ref: str, target: Path | None, project: str | None, local: bool, directory: Path | None
) -> None:
    """Download an artifact version (every file's sha256 checked) into DIR, or into the
    cache (~/.cache/tether/artifacts) when DIR is left out; prints the folder."""
    from tether.artifacts.manifest import split_ref

    try:
        if project is not None:
            ref = f"{project}/{ref}"
        if "/" not in ref:
            raise ValueError(
                f"{ref!r}: say the project, as 'mnist/resnet:v3' or with --project mnist"
            )
        project_part, _, spec = ref.rpartition("/")
        name, version = split_ref(spec)
        if local or load_client_config() is None:
            from tether.artifacts.local_index import LocalIndex

            index = LocalIndex(_runs_root(directory), project_part)
            artifact = index.artifact(name, version, project=project_part)
            folder = artifact.download(target)
        else:
            from tether.api import Api

            with Api() as api:
                artifact = api.artifact(ref)
                folder = artifact.download(target)
    except (TetherError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(str(folder))


@artifact_group.command("put")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", "-n", help="Artifact name; default: the path's base name.")
@click.option("--type", "kind", default="model", show_default=True, help="Artifact type.")
@click.option("--project", "-p", default=None, help="Project; default: 'default'.")
@click.option("--alias", "aliases", multiple=True, help="An alias besides 'latest' (repeat).")
@click.option("--dir", "directory", type=click.Path(path_type=Path), help=_DIR_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the version as JSON.")
def put_command(
    path: Path,
    name: str | None,
    kind: str,
    project: str | None,
    aliases: tuple[str, ...],
    directory: Path | None,
    as_json: bool,
) -> None:
    """Log PATH (a file or a folder) as the next version of an artifact, from a run of its
    own (job type 'artifact-put')."""
    import tether

    try:
        with tether.init(
            project=project, dir=directory, job_type="artifact-put", console="off", system=0
        ) as run:
            artifact = run.log_artifact(path, name, type=kind, aliases=("latest", *aliases))
    except (TetherError, ValueError, OSError, TypeError) as exc:
        raise click.ClickException(str(exc)) from exc
    result: dict[str, Any] = {
        "name": artifact.name,
        "version": artifact.version,
        "digest": artifact.digest,
        "files": len(artifact.files),
        "size": artifact.size,
        "run": run.id,
    }
    if as_json:
        dump_json(result)
        return
    console().print(
        f"Logged {artifact.name}:{artifact.version} ({len(artifact.files)} files, "
        f"{artifact.size:,} bytes, digest {artifact.digest[:12]}) from run {run.id}"
    )


def _runs_root(directory: Path | None) -> Path:
    return (directory or Path.cwd()) / "tether"


def _local_list(project: str, kind: str | None, directory: Path) -> list[dict[str, Any]]:
    from tether.artifacts.local_index import LocalIndex

    index = LocalIndex(directory / "tether", project)
    rows = []
    for name in index.names():
        data = index.load(name)
        versions = data["versions"]
        if not versions or (kind is not None and versions[-1].get("type") != kind):
            continue
        rows.append(
            {
                "name": name,
                "type": versions[-1].get("type", ""),
                "versions": len(versions),
                "latest": data["aliases"].get("latest"),
                "aliases": dict(data["aliases"]),
                "updated": max(float(v.get("created", 0)) for v in versions),
            }
        )
    return rows
