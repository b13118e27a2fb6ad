"""``civic plugins`` (list, ``check``) and ``civic route``: what the plugins give civic.

Heavy modules (departments, forms, the engine) are imported inside the commands, so
``civic --help`` and ``civic plugins`` stay light (see :mod:`civic.cli`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import TYPE_CHECKING, Annotated

import typer

from civic.cli_common import ConfigOption, fail
from civic.plugins import load_errors, load_plugins, plugin_infos, pm

if TYPE_CHECKING:
    from pathlib import Path

    from civic.config import Config
    from civic.departments import Problem

plugins_app = typer.Typer(
    rich_markup_mode=None,
    help="List the installed plugins, or check what they register.",
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@plugins_app.callback(invoke_without_command=True)
def plugins(
    ctx: typer.Context,
    all_: Annotated[
        bool, typer.Option("--all", help="Include civic's built-in default plugins.")
    ] = False,
    as_json: JsonOption = False,
    hook: Annotated[
        str | None, typer.Option("--hook", help="Only plugins implementing this hook.")
    ] = None,
) -> None:
    """List the installed plugins: name, version and the hooks each implements.

    `civic plugins check` checks what they register.
    """
    if ctx.invoked_subcommand is not None:
        return
    infos = plugin_infos(include_defaults=all_)
    if hook is not None:
        if not hasattr(pm.hook, hook):
            fail(f"unknown hook {hook!r}", code=2)
        infos = [info for info in infos if hook in info["hooks"]]
    if as_json:
        typer.echo(json.dumps(infos, indent=2, ensure_ascii=False))
        return
    if not infos:
        typer.echo("No plugins installed.")
        return
    for info in infos:
        typer.echo(f"{info['name']} {info.get('version') or ''}".rstrip())
        typer.echo(f"  hooks: {', '.join(info['hooks'])}")


@plugins_app.command("check")
def check(
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail on warnings too (notes never fail).")
    ] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Check every department the plugins register, and how they share routing words.

    Prints each problem: its severity, the plugin, the department, what and why. An
    error (a department left out, a plugin that cannot be loaded) exits 1; warnings
    (departments routed by the same subject word, a department its keywords never reach)
    exit 0 unless --strict; notes (a generic word such as "reclamar" shared) never fail.
    With --config, only the city's enabled departments, with its extra keywords.
    """
    from civic import departments
    from civic.default_plugins.routing import routing_departments

    manager = load_plugins()
    loaded = _config(config)
    found: list[Problem] = [
        departments.Problem(name, "-", f"cannot be loaded: {why}", "plugin")
        for name, why in load_errors(manager)
    ]
    quiet = logging.getLogger(departments.__name__)
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # every problem is printed below, once
    try:
        registry = departments.collect(manager, loaded.departments)
    finally:
        quiet.setLevel(level)
    found += registry.problems
    routed = routing_departments(registry, loaded)  # with the city's extra keywords
    found += departments.routing_problems(routed, registry.owners, explain=True)
    found.sort(key=lambda p: departments.SEVERITIES.index(p.severity))
    counts = {severity: 0 for severity in departments.SEVERITIES}
    for problem in found:
        counts[problem.severity] += 1
    if as_json:
        rows = [
            {
                "severity": p.severity,
                "plugin": p.plugin,
                "department": p.department,
                "what": p.what,
                "why": p.reason,
            }
            for p in found
        ]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        for problem in found:
            what = f" {problem.what}:" if problem.what else ""
            typer.echo(
                f"{problem.severity}: plugin {problem.plugin}, department "
                f"{problem.department}:{what} {problem.reason}"
            )
        summary = ", ".join(f"{n} {severity}(s)" for severity, n in counts.items())
        typer.echo(f"{len(registry)} department(s) checked: {summary}")
    if counts["error"] or (strict and counts["warning"]):
        raise typer.Exit(code=1)


def route(
    text: Annotated[str, typer.Argument(help="The citizen's message.")],
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Explain where a message goes: each department's score and the words that matched.

    Routes TEXT as the bot does when the citizen is choosing a department (the city's
    enabled departments, with their extra keywords): the department chosen, or the tie
    (the bot asks which), or none (the bot shows the menu), and the rule that decided.
    """
    from civic.config import ConfigError
    from civic.default_plugins.routing import routing_departments
    from civic.routing_explain import city_departments, explain, render

    manager = load_plugins()
    loaded = _config(config)
    try:
        registry = city_departments(manager, loaded)
    except ConfigError as exc:
        fail("invalid configuration:\n" + "\n".join(exc.problems))
    departments = routing_departments(registry, loaded)
    explanation = explain(text, departments, manager, dt.datetime.now(dt.UTC))
    if as_json:
        typer.echo(json.dumps(explanation.as_dict(), indent=2, ensure_ascii=False))
    else:
        typer.echo(render(explanation))


def _config(path: Path | None) -> Config:
    """The city's configuration (built-in defaults without a file), or a clear exit."""
    from civic.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        fail("invalid configuration:\n" + "\n".join(exc.problems))


def register(app: typer.Typer) -> None:
    """Add ``civic plugins`` and ``civic route`` to ``app``."""
    app.add_typer(plugins_app, name="plugins")
    app.command("route")(route)
