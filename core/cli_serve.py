"""``civic serve`` and ``civic inbox``: the HTTP service and its dead letters.

The web stack (Starlette, uvicorn, httpx) is imported inside the commands, so
``civic --help`` does not load it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from civic.cli_common import ConfigOption, DatabaseUrl, fail

inbox_app = typer.Typer(
    rich_markup_mode=None,
    help="Deliveries channels received: list dead letters, process one again.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add ``civic serve`` and ``civic inbox`` to the main application."""
    app.command("serve")(serve)
    app.add_typer(inbox_app, name="inbox")


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)
    ] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", help="Worker processes (each opens the database).", min=1)
    ] = 1,
    config: ConfigOption = None,
    database_url: DatabaseUrl = None,
    development: Annotated[
        bool,
        typer.Option(
            "--dev",
            help="Development: let channels start without their secrets (never in production).",
        ),
    ] = False,
) -> None:
    """Serve the channels over HTTP: WhatsApp's webhook, the web chat at /chat, the
    attendants' console at /console, /healthz and /readyz. Put it behind a reverse proxy
    with TLS (see the README)."""
    import uvicorn

    from civic.http_protocol import NoDelayProtocol
    from civic.serve import DEVELOPMENT_ENV, ServeError, build_host, configure_logging, create_app

    configure_logging()
    if workers > 1:
        # Each worker builds its own app from the environment.
        if config is not None:
            os.environ["CIVIC_CONFIG"] = str(config)
        if database_url:
            os.environ["CIVIC_DATABASE_URL"] = database_url
        os.environ[DEVELOPMENT_ENV] = "1" if development else ""
        try:  # refuse to start before forking when something is missing
            create_app(
                build_host(config_path=config, database_url=database_url, development=development)
            )
        except ServeError as exc:
            fail(str(exc))
        uvicorn.run(
            "civic.serve:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            proxy_headers=True,
            http=NoDelayProtocol,
        )
        return
    try:
        app = create_app(
            build_host(config_path=config, database_url=database_url, development=development)
        )
    except ServeError as exc:
        fail(str(exc))
    uvicorn.run(
        app, host=host, port=port, log_config=None, proxy_headers=True, http=NoDelayProtocol
    )


@inbox_app.command("dead-letters")
def dead_letters(
    output_format: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    database_url: DatabaseUrl = None,
) -> None:
    """Deliveries civic could not understand, kept for staff (never dropped)."""
    from civic.cli_common import open_existing_storage

    storage = open_existing_storage(database_url)
    try:
        with storage.reading() as tx:
            rows = tx.inbox_items("dead", limit=1000)
    finally:
        storage.close()
    if output_format == "json":
        typer.echo(
            json.dumps(
                [
                    {
                        "id": row["id"],
                        "channel": row["channel"],
                        "received_at": row["received_at"].isoformat(),
                        "error": row["error"],
                        "bytes": len(row["body"]),
                    }
                    for row in rows
                ],
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    if not rows:
        typer.echo("No dead letters.")
        return
    for row in rows:
        when = row["received_at"].strftime("%Y-%m-%d %H:%M")
        typer.echo(f"{row['id']:>6}  {when}  {row['channel']:<10} {row['error']}")


@inbox_app.command("retry")
def retry(
    inbox_id: Annotated[int, typer.Argument(help="The delivery's number.", min=1, max=2**63 - 1)],
    config: ConfigOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Process a delivery again (after an upgrade of civic, or a fix of the city's setup)."""
    from civic.channels import collect_channels
    from civic.channels.inbox import process_again
    from civic.serve import ServeError, build_host

    try:
        host = build_host(config_path=config, database_url=database_url, development=True)
    except ServeError as exc:
        fail(str(exc))
    try:
        outcome = process_again(host, collect_channels(host.engine.pm), inbox_id)
    finally:
        host.engine.storage.close()
    if outcome is None:
        fail(f"no delivery {inbox_id} in the inbox")
    typer.echo(f"Delivery {inbox_id}: {outcome}")


__all__ = ["Path", "register"]
