"""``civic texts``: the sentences and word lists a city can override in ``[texts]``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from civic.cli_common import ConfigOption, fail
from civic.config import ConfigError, load_config
from civic.plugins import load_plugins

texts_app = typer.Typer(
    rich_markup_mode=None,
    no_args_is_help=True,
    help="The citizen-facing texts and word lists, and how to override them.",
)


def register(app: typer.Typer) -> None:
    """Add ``civic texts`` to the main application."""
    app.add_typer(texts_app, name="texts")


def _catalog(config: Path | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every key with its value as the city's configuration makes it, and the defaults."""
    from civic import departments
    from civic.texts import Texts, catalogue_packages

    try:
        loaded = load_config(config)
    except ConfigError as exc:
        fail("invalid configuration:\n" + "\n".join(exc.problems))
    manager = load_plugins()
    derived = departments.department_texts(departments.collect(manager, loaded.departments))
    texts = Texts(loaded.locale, loaded.texts, catalogue_packages(manager), derived)
    return texts.catalog, texts.defaults


def _shown(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


@texts_app.command("list")
def texts_list(
    prefix: Annotated[
        str, typer.Argument(help="Only keys starting with this (procon., words., welcome).")
    ] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    changed: Annotated[
        bool, typer.Option("--changed", help="Only the keys the city overrides.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Every text key with its current value (the city's override, or the default).

    Copy a key into civic.toml's [texts] to change what civic says; word lists (keys
    under words.) are lists of words.
    """
    catalog, defaults = _catalog(config)
    rows = {
        key: _shown(value)
        for key, value in sorted(catalog.items())
        if key.startswith(prefix) and (not changed or defaults.get(key) != value)
    }
    if not rows:
        fail(f"no text key starts with {prefix!r}" if prefix else "no text overridden", code=1)
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for key, value in rows.items():
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, list) else value
        typer.echo(f"{key} = {shown}")


@texts_app.command("show")
def texts_show(
    key: Annotated[str, typer.Argument(help="The text key, e.g. welcome or procon.name.")],
    config: ConfigOption = None,
) -> None:
    """One text: its current value, its default and the line to put in civic.toml."""
    catalog, defaults = _catalog(config)
    if key not in catalog:
        close = [k for k in catalog if key.lower() in k.lower()][:10]
        hint = f" (did you mean: {', '.join(close)}?)" if close else ""
        fail(f"unknown text key {key!r}{hint}", code=1)
    value, default = _shown(catalog[key]), _shown(defaults.get(key))
    typer.echo(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    if default != value:
        typer.echo(f"default: {json.dumps(default, ensure_ascii=False)}")
    line = f"{json.dumps(key)} = {json.dumps(value, ensure_ascii=False)}"
    typer.echo(f"in civic.toml: [texts] {line}")
