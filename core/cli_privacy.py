"""``civic privacy``: the city's duties as controller (LGPD): the record of processing
operations (art. 37) and retention (art. 16)."""

from __future__ import annotations

import enum
import json
from typing import Annotated

import typer

from civic.cli_common import ConfigOption, DatabaseUrl, fail, open_engine

privacy_app = typer.Typer(
    rich_markup_mode=None,
    help="The record of processing (LGPD art. 37) and retention purges (art. 16).",
    no_args_is_help=True,
)


class RegisterFormat(enum.StrEnum):
    markdown = "markdown"
    json = "json"


def register(app: typer.Typer) -> None:
    """Add ``civic privacy`` to the main application."""
    app.add_typer(privacy_app, name="privacy")


@privacy_app.command("register")
def register_(
    output_format: Annotated[
        RegisterFormat, typer.Option("--format", "-f", help="markdown (to publish) or json.")
    ] = RegisterFormat.markdown,
    config: ConfigOption = None,
) -> None:
    """Print the record of processing operations: what the core and each enabled
    department declare (purpose, legal basis, data, retention) and the periods set in
    civic.toml. Publish it where [privacy] register_url says."""
    from civic import departments, privacy
    from civic.config import ConfigError, load_config
    from civic.plugins import load_plugins

    try:
        loaded = load_config(config)
    except ConfigError as exc:
        fail("invalid configuration:\n" + "\n".join(exc.problems))
    registry = departments.collect(load_plugins(), loaded.departments)
    data = privacy.record(loaded, registry)
    if output_format is RegisterFormat.json:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        typer.echo(privacy.markdown(data), nl=False)


@privacy_app.command("purge")
def purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count what would be anonymised.")
    ] = False,
    database_url: DatabaseUrl = None,
    config: ConfigOption = None,
) -> None:
    """Anonymise what is older than the retention periods of civic.toml ([retention],
    [departments.<slug>.retention]), in closed conversations only. Safe to run again
    (from cron, or let civic serve run it daily)."""
    from civic import retention

    engine = open_engine(database_url, config)
    try:
        if not engine.config.retention.configured:
            typer.echo("No retention period is set in civic.toml ([retention]): nothing to do.")
            return
        lines = retention.purge(engine, dry_run=dry_run)
    finally:
        engine.storage.close()
    verb = "would be anonymised" if dry_run else "anonymised"
    typer.echo(f"{'DEPARTMENT':<14} {'KIND':<12} {'DAYS':>6} {'COUNT':>7}")
    for line in lines:
        typer.echo(f"{line.department:<14} {line.kind:<12} {line.days:>6} {line.count:>7}")
    typer.echo(f"{sum(line.count for line in lines)} item(s) {verb}.")
