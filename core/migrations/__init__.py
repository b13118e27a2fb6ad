"""Schema upgrades: the Alembic revisions shipped inside civic.

:meth:`civic.storage.Storage.migrate` applies them on start-up, unattended, on SQLite and
PostgreSQL; nobody runs ``alembic`` by hand and no ``alembic.ini`` exists. Alembic is
configured here, in code, and ``env.py`` runs on the connection (and inside the
transaction) that :class:`~civic.storage.Storage` passes in.

Revisions form one straight line numbered ``0001``, ``0002``, ...: the number is the
schema version that :meth:`~civic.storage.Storage.schema_version` reports. Each revision
writes its operations out (``op.create_table``, ``op.add_column``), never
``metadata.create_all``, so a later change to :mod:`civic.tables` cannot change what an
old revision does. To change the schema: edit :mod:`civic.tables`, add
``versions/NNNN_what.py`` whose ``down_revision`` is the previous number, set
:data:`HEAD` to it, and run ``tests/test_migrations.py``: it fails until the upgraded
database matches the models.

Alembic itself is imported only when a database needs upgrading, so a start-up that
finds the schema up to date pays nothing for it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

#: The newest revision: the schema of :mod:`civic.tables`.
HEAD = "0007"
#: Where ``env.py`` and ``versions/`` live (inside the installed package).
LOCATION = Path(__file__).resolve().parent

# Alembic's `context` and `op` are process-wide proxies: one upgrade at a time per process.
_RUNNING = threading.Lock()


class UnknownRevision(Exception):
    """The database's schema revision is not one this civic knows."""

    def __init__(self, revision: str) -> None:
        super().__init__(revision)
        self.revision = revision


def revision_id(number: int) -> str:
    """The revision id of schema version ``number`` (``1`` is ``"0001"``)."""
    return f"{number:04d}"


def revision_number(revision: str) -> int:
    """The schema version of a revision id; :class:`UnknownRevision` if it is not civic's."""
    if len(revision) != 4 or not revision.isdigit():
        raise UnknownRevision(revision)
    return int(revision)


def config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for civic's revisions, bound to ``connection`` if given."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(LOCATION))
    cfg.set_main_option("path_separator", "os")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(connection: Connection, current: str | None, *, stamp: bool = False) -> int:
    """Upgrade the schema from revision ``current`` (``None``: empty) to :data:`HEAD`.

    Runs on ``connection`` inside its open transaction, which the caller commits and
    holds the migration lock for. With ``stamp``, ``current`` is first recorded as the
    database's revision (a database made before civic used Alembic). Returns the number
    of revisions applied; raises :class:`UnknownRevision` when ``current`` is newer than
    this civic.
    """
    from alembic import command

    start = 0 if current is None else revision_number(current)
    if start > revision_number(HEAD):
        raise UnknownRevision(str(current))
    if start == revision_number(HEAD) and not stamp:
        return 0
    with _RUNNING:
        cfg = config(connection)
        if stamp and current is not None:
            command.stamp(cfg, current)
        command.upgrade(cfg, HEAD)
    return revision_number(HEAD) - start
