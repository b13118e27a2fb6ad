"""``civic keys``: the keys that encrypt CPFs at rest (see docs/security.md).

Only Typer is imported at module level; the database and the cryptography modules are
imported by the command that needs them, so ``civic --help`` stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

keys_app = typer.Typer(
    rich_markup_mode=None, help="Manage the keys that encrypt CPFs at rest.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add ``civic keys`` to the main application."""
    app.add_typer(keys_app, name="keys")


@keys_app.command("rotate")
def rotate(
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="CIVIC_DATABASE_URL",
            help="SQLAlchemy URL of the database (default: SQLite in the civic data folder).",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Rows read and rewritten at a time.")
    ] = 500,
) -> None:
    """Re-encrypt every stored CPF with the first key.

    Put a new key first in CIVIC_CPF_KEYS (or cpf.key) and keep the old keys after it,
    run this, then remove the old keys. Everything is rewritten in one transaction: if a
    value opens with none of the keys, nothing changes.
    """
    import sqlalchemy as sa

    from civic import crypto, storage
    from civic.cli_common import fail, open_existing_storage

    try:
        vault = crypto.load_vault()
    except (crypto.VaultError, OSError) as exc:
        fail(str(exc))
    store = open_existing_storage(database_url)
    try:
        store.migrate()
        with store.transaction() as tx:
            count = storage.rotate_encrypted(tx, vault.rotate, batch=batch_size)
    except (crypto.VaultError, storage.StorageError) as exc:
        fail(str(exc))
    except sa.exc.DBAPIError as exc:
        fail(f"database error, nothing was re-encrypted: {exc.orig}")
    finally:
        store.close()
    typer.echo(f"Re-encrypted {count} value(s) with the first key of {vault.source}.")
